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
  colourOf,
  differenceCaption,
  differenceMap,
  divergingScale,
  formatLoss,
  legendTicks,
  mapCaption,
  patchCell,
  patchLossMap,
  rgbCss,
  sequentialScale,
  type LossScale,
} from './patchLossMap';
import type { RunRecord } from './runRecords';
import { sampleImages, type GrayImage } from './sampleImages';
import { cssColour, useTheme } from './theme';

/** The drawing's size in CSS pixels: the grid, then the sequence strip, then the legend. */
const GRID = 240;
const STRIP_TOP = GRID + 24;
const STRIP_H = 16;
const LEGEND_TOP = STRIP_TOP + STRIP_H + 34;
const LEGEND_H = 10;
const HEIGHT = LEGEND_TOP + LEGEND_H + 16;
/** The exported PNG: the map at 1.5× its on-screen size (whole device pixels at 2×). */
const EXPORT_SCALE = 2;
const EXPORT_MAP_SCALE = 1.5;

interface MapDrawing {
  side: number;
  /** Raster order; NaN: never predicted (drawn hatched). */
  cells: readonly number[];
  /** Sequence positions t = 1 … K−1 (entry t − 1). */
  sequence: readonly number[];
  scale: LossScale;
  image?: GrayImage;
}

function hatch(g: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  g.fillStyle = '#9a9a9a';
  g.fillRect(x, y, w, h);
  g.save();
  g.beginPath();
  g.rect(x, y, w, h);
  g.clip();
  g.strokeStyle = '#5a5a5a';
  g.lineWidth = 1.5;
  for (let d = -h; d < w; d += 6) {
    g.beginPath();
    g.moveTo(x + d, y + h);
    g.lineTo(x + d + h, y);
    g.stroke();
  }
  g.restore();
}

/** Draws a map in CSS pixels at the context's current transform. */
function drawMap(g: CanvasRenderingContext2D, m: MapDrawing): void {
  const fg = cssColour('--fg', '#000');
  g.fillStyle = cssColour('--panel', '#fff');
  g.fillRect(0, 0, GRID, HEIGHT);
  const cell = GRID / m.side;
  if (m.image) {
    const data = new ImageData(m.image.width, m.image.height);
    m.image.pixels.forEach((v, i) => data.data.set([v, v, v, 255], 4 * i));
    const off = document.createElement('canvas');
    [off.width, off.height] = [m.image.width, m.image.height];
    off.getContext('2d')!.putImageData(data, 0, 0);
    g.drawImage(off, 0, 0, GRID, GRID);
  }
  m.cells.forEach((v, p) => {
    const { row, col } = patchCell(p, m.side);
    const [x0, y0] = [Math.round(col * cell), Math.round(row * cell)];
    const [w, h] = [Math.round((col + 1) * cell) - x0, Math.round((row + 1) * cell) - y0];
    if (!Number.isFinite(v)) return hatch(g, x0, y0, w, h);
    // Over an image the colour lets it show through faintly; alone it is exact.
    g.globalAlpha = m.image ? 0.78 : 1;
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    g.fillRect(x0, y0, w, h);
    g.globalAlpha = 1;
  });
  if (m.side <= 32) {
    g.strokeStyle = 'rgba(127,127,127,0.5)';
    g.lineWidth = 1;
    for (let i = 1; i < m.side; i++) {
      const at = Math.round(i * cell) + 0.5;
      g.beginPath();
      g.moveTo(at, 0);
      g.lineTo(at, GRID);
      g.moveTo(0, at);
      g.lineTo(GRID, at);
      g.stroke();
    }
  }
  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'top';
  g.fillStyle = fg;
  g.textAlign = 'left';
  const n = m.sequence.length;
  g.fillText(`Sequence order, t = 1 … ${n}`, 0, GRID + 8, GRID);
  m.sequence.forEach((v, i) => {
    const x0 = Math.round((i * GRID) / n);
    const w = Math.round(((i + 1) * GRID) / n) - x0;
    if (!Number.isFinite(v)) return hatch(g, x0, STRIP_TOP, w, STRIP_H);
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    g.fillRect(x0, STRIP_TOP, w, STRIP_H);
  });
  g.fillStyle = fg;
  g.fillText('1', 0, STRIP_TOP + STRIP_H + 2);
  g.textAlign = 'right';
  g.fillText(String(n), GRID, STRIP_TOP + STRIP_H + 2);
  const steps = 64;
  for (let i = 0; i < steps; i++) {
    const v = m.scale.min + ((m.scale.max - m.scale.min) * (i + 0.5)) / steps;
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    const x0 = Math.round((i * GRID) / steps);
    g.fillRect(x0, LEGEND_TOP, Math.round(((i + 1) * GRID) / steps) - x0, LEGEND_H);
  }
  const ticks = legendTicks(m.scale);
  g.fillStyle = fg;
  g.textAlign = 'left';
  const what = m.scale.kind === 'diverging' ? 'Loss difference, A − B' : 'Validation loss';
  g.fillText(ticks.length === 1 ? `${what}: the same everywhere` : what, 0, LEGEND_TOP - 14, GRID);
  ticks.forEach((v, i) => {
    const x = ticks.length === 1 ? GRID / 2 : (i * GRID) / (ticks.length - 1);
    g.textAlign =
      ticks.length === 1
        ? 'center'
        : i === 0
          ? 'left'
          : i === ticks.length - 1
            ? 'right'
            : 'center';
    g.fillText(formatLoss(v, m.scale.kind === 'diverging'), x, LEGEND_TOP + LEGEND_H + 2);
  });
}

/** Splits text into lines no wider than `width` at the context's font. */
function wrap(g: CanvasRenderingContext2D, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && g.measureText(next).width > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  return line ? [...lines, line] : lines;
}

/** The map as a PNG at 2×: title, caption (wrapped), the drawing, and its note. */
function renderPng(m: MapDrawing, title: string, caption: string, note: string): Promise<Blob> {
  const k = EXPORT_SCALE;
  const [pad, width, mapH] = [16, GRID * EXPORT_MAP_SCALE, HEIGHT * EXPORT_MAP_SCALE];
  const out = document.createElement('canvas');
  const g = out.getContext('2d')!;
  g.font = '12px system-ui, sans-serif';
  const captionLines = wrap(g, caption, width);
  const noteLines = wrap(g, note, width);
  const top = pad + 24 + captionLines.length * 16 + 8;
  out.width = (width + 2 * pad) * k;
  out.height = (top + mapH + 8 + noteLines.length * 16 + pad) * k;
  g.scale(k, k);
  g.fillStyle = cssColour('--panel', '#fff');
  g.fillRect(0, 0, width + 2 * pad, out.height / k);
  g.textBaseline = 'top';
  g.fillStyle = cssColour('--fg', '#000');
  g.font = '600 16px system-ui, sans-serif';
  g.fillText(title, pad, pad, width);
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = cssColour('--muted', '#555');
  captionLines.forEach((l, i) => g.fillText(l, pad, pad + 24 + i * 16));
  g.save();
  g.translate(pad, top);
  g.scale(EXPORT_MAP_SCALE, EXPORT_MAP_SCALE);
  drawMap(g, m);
  g.restore();
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = cssColour('--muted', '#555');
  g.textAlign = 'left';
  noteLines.forEach((l, i) => g.fillText(l, pad, top + mapH + 8 + i * 16));
  return new Promise((resolve, reject) =>
    out.toBlob(
      (b) => (b ? resolve(b) : reject(new Error('The PNG could not be drawn.'))),
      'image/png',
    ),
  );
}

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
    <figure className="chart" data-testid={props.testId} data-caption={props.caption}>
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
              <figure className="chart" key={run.id} data-testid="patch-loss-map-missing">
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
              title={`Loss per patch: ${run.name}`}
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
