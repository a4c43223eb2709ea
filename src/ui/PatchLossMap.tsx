/**
 * Per-patch validation loss (issue 14, "Per-patch views"): for each run, every patch of the
 * image grid coloured by the loss of predicting it (newest evaluation), the same losses in
 * sequence order, a colour legend with its numbers, and — for two runs on one grid — the map of
 * run A − run B. Each map exports as a PNG with a caption naming the run(s), ordering,
 * attention and step. The data comes from patchLossMap.ts.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { downloadBlob, fileSafe } from './download';
import {
  GRID,
  HEIGHT,
  STRIP_H,
  STRIP_TOP,
  drawMap,
  renderPng,
  type MapDrawing,
} from './patchLossDrawing';
import {
  differenceCaption,
  differenceMap,
  divergingScale,
  formatLoss,
  mapCaption,
  patchCell,
  patchLossMap,
  sequentialScale,
} from './patchLossMap';
import type { RunRecord } from './runRecords';
import { sampleImages, type GrayImage } from './sampleImages';
import { useTheme } from './theme';

const serialise = (values: readonly number[]) =>
  values.map((v) => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : 'none')).join(',');

function MapFigure(props: {
  drawing: MapDrawing;
  title: string;
  caption: string;
  note: string;
  exportName: string;
  testId: string;
  step?: number;
  firstPatch?: number;
}) {
  const { drawing: m } = props;
  const canvas = useRef<HTMLCanvasElement>(null);
  const theme = useTheme((s) => s.resolved);
  const [hover, setHover] = useState<string>();
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const ratio = window.devicePixelRatio || 1;
    [c.width, c.height] = [Math.round(GRID * ratio), Math.round(HEIGHT * ratio)];
    const g = c.getContext('2d')!;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    drawMap(g, m);
  }, [m, theme]);

  const signed = m.scale.kind === 'diverging';
  const onMove = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    const [x, y] = [e.clientX - box.left, e.clientY - box.top];
    if (x >= 0 && x < GRID && y >= 0 && y < GRID) {
      const [col, row] = [Math.floor((x / GRID) * m.side), Math.floor((y / GRID) * m.side)];
      const v = m.cells[row * m.side + col];
      setHover(
        `Row ${row + 1}, column ${col + 1}: ${Number.isFinite(v) ? formatLoss(v, signed) : 'not predicted'}`,
      );
    } else if (y >= STRIP_TOP && y < STRIP_TOP + STRIP_H && x >= 0 && x < GRID) {
      const t = Math.floor((x / GRID) * m.sequence.length);
      setHover(`Position t = ${t + 1}: ${formatLoss(m.sequence[t], signed)}`);
    } else setHover(undefined);
  };

  return (
    <figure
      className="chart"
      aria-label={`${props.title} map`}
      data-testid={props.testId}
      data-caption={props.caption}
    >
      <figcaption className="chart-head">
        <span className="chart-title">{props.title}</span>
        <span className="chart-actions">
          <button
            type="button"
            className="small secondary"
            onClick={() =>
              void renderPng(m, props.title, props.caption, props.note).then((blob) =>
                downloadBlob(`${fileSafe(props.exportName)}.png`, blob),
              )
            }
          >
            PNG
          </button>
        </span>
      </figcaption>
      <canvas
        ref={canvas}
        style={{ width: GRID, height: HEIGHT, display: 'block' }}
        role="img"
        aria-label={`${props.title}: ${m.side}×${m.side} patches, ${formatLoss(m.scale.min, signed)} to ${formatLoss(m.scale.max, signed)}`}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(undefined)}
        data-testid="patch-loss-canvas"
        data-kind={m.scale.kind}
        data-min={m.scale.min}
        data-max={m.scale.max}
        data-grid={m.side}
        data-cell-px={GRID / m.side}
        data-cells={serialise(m.cells)}
        data-sequence={serialise(m.sequence)}
        data-step={props.step}
        data-first-patch={props.firstPatch}
      />
      <p className="muted small" style={{ margin: '0.2rem 0 0', maxWidth: GRID + 120 }}>
        {hover ?? props.note}
      </p>
    </figure>
  );
}

/** The first embedded validation image, for a faint picture under maps of Fashion-MNIST runs. */
function useValidationImage(wanted: boolean): GrayImage | undefined {
  const [image, setImage] = useState<GrayImage>();
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    sampleImages(1).then(
      (all) => live && setImage(all[0]),
      () => undefined, // No picture: the map is drawn alone.
    );
    return () => {
      live = false;
    };
  }, [wanted]);
  return wanted ? image : undefined;
}

const MAX_MAPS = 4;

/** One map per run (up to 4), and for exactly two runs on one grid their difference A − B. */
export function PatchLossMaps({ runs }: { runs: readonly RunRecord[] }) {
  const [sharedScale, setSharedScale] = useState(true);
  const shown = runs.slice(0, MAX_MAPS);
  const maps = shown.map((run) => ({ run, ...patchLossMap(run) }));
  const image = useValidationImage(shown.some((r) => r.dataset.kind === 'fashion-mnist'));
  if (shown.length === 0) return null;
  const drawn = maps.filter((m) => m.map);
  const shared = sequentialScale(drawn.flatMap((m) => m.map!.cells));
  const imageFor = (r: RunRecord) => (r.dataset.kind === 'fashion-mnist' ? image : undefined);

  let difference: ReactNode;
  if (runs.length === 2) {
    const [a, b] = maps;
    const d = a.map && b.map ? differenceMap(a.map, b.map) : undefined;
    const scale = d?.map && divergingScale([...d.map.cells, ...d.map.sequence]);
    if (d?.reason)
      difference = (
        <p className="muted" data-testid="patch-loss-difference-missing">
          {d.reason}
        </p>
      );
    else if (d?.map && scale && a.map && b.map) {
      difference = (
        <MapFigure
          testId="patch-loss-difference"
          title={`Difference: ${a.run.name} − ${b.run.name}`}
          caption={differenceCaption(a.run, a.map.step, b.run, b.map.step)}
          note="Red: run A's loss is higher there, blue: run B's. Hatched: a patch either run never predicts (its first). The strip compares the two sequences position by position."
          exportName={`${a.run.name}-minus-${b.run.name}-patch-loss`}
          drawing={{
            side: d.map.side,
            cells: d.map.cells,
            sequence: d.map.sequence,
            scale,
            image: imageFor(a.run) && imageFor(b.run),
          }}
        />
      );
    }
  }

  return (
    <div className="patch-loss-maps" data-testid="patch-loss-maps" style={{ marginTop: '0.75rem' }}>
      <h4 style={{ margin: '0 0 0.2rem' }}>Validation loss per patch</h4>
      <p className="muted small" style={{ marginTop: 0 }}>
        Each patch coloured by the validation loss of predicting it (newest evaluation, causal:
        every patch after the first is predicted), dark = low, yellow = high; the strip shows the
        same losses in the ordering&apos;s sequence order. Hover for the numbers.
        {runs.length > MAX_MAPS && ` The first ${MAX_MAPS} of the ${runs.length} selected runs.`}
      </p>
      {drawn.length > 1 && (
        <label className="checkbox small">
          <input
            type="checkbox"
            checked={sharedScale}
            onChange={(e) => setSharedScale(e.target.checked)}
            data-testid="patch-loss-shared-scale"
          />{' '}
          One colour scale for every map (colours compare across runs)
        </label>
      )}
      <div className="chart-grid dynamics-grid">
        {maps.map(({ run, map, reason }) => {
          const scale = map && (sharedScale && shared ? shared : sequentialScale(map.cells));
          if (!map || !scale)
            return (
              <figure
                className="chart"
                key={run.id}
                aria-label={`Per-patch loss: ${run.name} map`}
                data-testid="patch-loss-map-missing"
              >
                <figcaption className="chart-head">
                  <span className="chart-title">{run.name}</span>
                </figcaption>
                <p className="muted">{reason}</p>
              </figure>
            );
          const { row, col } = patchCell(map.firstPatch, map.side);
          return (
            <MapFigure
              key={run.id}
              testId="patch-loss-map"
              title={`Per-patch loss: ${run.name}`}
              caption={mapCaption(run, map.step)}
              note={`Hatched: row ${row + 1}, column ${col + 1}, the ${run.settings.ordering} ordering's first patch, which is never predicted.${imageFor(run) ? ' Faintly under the colours: the first validation image.' : ''}`}
              exportName={`${run.name}-patch-loss-step-${map.step}`}
              step={map.step}
              firstPatch={map.firstPatch}
              drawing={{
                side: map.side,
                cells: map.cells,
                sequence: map.sequence,
                scale,
                image: imageFor(run),
              }}
            />
          );
        })}
        {difference}
      </div>
    </div>
  );
}
