/**
 * The model's attention for a chosen query patch (issue 14, "Per-patch views"): for a finished
 * or stopped run with a checkpoint in this browser, pick a validation image, a block, a head (or
 * the mean over heads) and the prefix mask (S drawn as in training or set, causal, or fully
 * bidirectional), click a patch: its attention probabilities over the image's patches, in image
 * space over the picture or in sequence order, masked patches hatched, the query outlined.
 * Exports as PNG with a caption. The rows come from the worker (queryAttentionStore.ts).
 */
import { useEffect, useId, useRef, useState } from 'react';
import { inverseOrder, queryRow, type HeadChoice } from '../model/queryAttentionRows';
import { downloadBlob } from './download';
import { ErrorNotice } from './ErrorNotice';
import { patchCell, runGrid } from './patchLossMap';
import {
  GRID,
  HEIGHT,
  STRIP_H,
  STRIP_TOP,
  drawAttention,
  formatProbability,
  renderAttentionPng,
  type AttentionDrawing,
} from './queryAttentionDrawing';
import { PictureCanvas } from './QueryAttentionPicture';
import { useQueryAttention } from './queryAttentionStore';
import { attentionCaption, attentionFileName, drawPrefix, maskText } from './queryAttentionCaption';
import { isActive, type RunRecord } from './runRecords';
import { useTheme } from './theme';

type MaskMode = 'prefix' | 'causal' | 'bidirectional';

function Controls(props: { children: React.ReactNode }) {
  return (
    <div className="chart-controls" style={{ rowGap: '0.3rem' }}>
      {props.children}
    </div>
  );
}

/** One run's view: its controls, the map and the export. */
function RunAttention({ run }: { run: RunRecord }) {
  const id = useId();
  const grid = runGrid(run.settings);
  const K = grid.side * grid.side;
  const { depth, heads } = run.settings;
  const [imageIndex, setImageIndex] = useState(0);
  const [block, setBlock] = useState(depth - 1);
  const [head, setHead] = useState<HeadChoice>('mean');
  const [mode, setMode] = useState<MaskMode>(run.settings.prefix ? 'prefix' : 'causal');
  const [drawn, setDrawn] = useState(() => drawPrefix(K, run.settings.seed));
  const [arrangement, setArrangement] = useState<'image' | 'sequence'>('image');
  // The query as a raster patch (what a click on the picture names); the centre by default.
  const [queryPatch, setQueryPatch] = useState(
    Math.floor(grid.side / 2) * grid.side + Math.floor(grid.side / 2),
  );
  // The patch under the pointer (its text follows the current rows, mask and head).
  const [hover, setHover] = useState<number>();
  const prefix = mode === 'causal' ? 1 : mode === 'bidirectional' ? K : drawn;
  const { result, busy, error: lastError, request, load } = useQueryAttention();
  const error = request?.runId === run.id ? lastError : undefined;
  const canvas = useRef<HTMLCanvasElement>(null);
  useTheme((s) => s.resolved); // Redraw (the effect below runs each render) on a theme change.

  useEffect(() => {
    // A slider drag asks once it rests: each request runs the float64 trunk in the worker.
    const timer = setTimeout(
      () =>
        void load({
          runId: run.id,
          dataset: run.dataset,
          ordering: run.settings.ordering,
          imageIndex,
          block,
          prefix,
        }),
      150,
    );
    return () => clearTimeout(timer);
  }, [run.id, run.dataset, run.settings.ordering, imageIndex, block, prefix, load]);

  const shown = result?.runId === run.id ? result : undefined;
  const query = shown ? inverseOrder(shown.order)[queryPatch] : 0;
  const row =
    shown &&
    queryRow(shown.probs, shown.positions, shown.heads, head, query, shown.prefix, shown.order);
  let drawing: AttentionDrawing | undefined;
  if (shown && row) {
    const asImage = arrangement === 'image';
    let max = 0;
    for (const v of row.sequence) max = Math.max(max, v);
    drawing = {
      side: shown.side,
      arrangement,
      cells: [...(asImage ? row.image : row.sequence)],
      attended: asImage ? row.attendedImage : row.attendedSequence,
      queryCell: asImage ? queryPatch : query,
      sequence: [...row.sequence],
      sequenceAttended: row.attendedSequence,
      queryPosition: query,
      prefix: shown.prefix,
      scale: { kind: 'sequential', min: 0, max },
      picture: shown.picture,
    };
  }

  useEffect(() => {
    const c = canvas.current;
    if (!c || !drawing) return;
    const ratio = window.devicePixelRatio || 1;
    [c.width, c.height] = [Math.round(GRID * ratio), Math.round(HEIGHT * ratio)];
    const g = c.getContext('2d')!;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    drawAttention(g, drawing);
  });

  const cellAt = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    const [x, y] = [e.clientX - box.left, e.clientY - box.top];
    if (!shown || x < 0 || x >= GRID || y < 0 || y >= GRID) return undefined;
    return Math.floor((y / GRID) * shown.side) * shown.side + Math.floor((x / GRID) * shown.side);
  };
  const patchOfCell = (c: number) => (arrangement === 'image' ? c : shown!.order[c]);
  const describe = (patch: number) => {
    const t = inverseOrder(shown!.order)[patch];
    const { row: r, col } = patchCell(patch, shown!.side);
    const where = `Row ${r + 1}, column ${col + 1} (position ${t + 1})`;
    return row!.attendedSequence[t]
      ? `${where}: attention ${formatProbability(row!.sequence[t])}`
      : `${where}: masked, not attended under ${maskText(shown!.prefix, shown!.positions)}`;
  };
  const onMove = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const c = cellAt(e);
    if (c !== undefined) return setHover(patchOfCell(c));
    const box = e.currentTarget.getBoundingClientRect();
    const [x, y] = [e.clientX - box.left, e.clientY - box.top];
    if (shown && y >= STRIP_TOP && y < STRIP_TOP + STRIP_H && x >= 0 && x < GRID)
      setHover(shown.order[Math.floor((x / GRID) * shown.positions)]);
    else setHover(undefined);
  };
  const onKey = (e: React.KeyboardEvent) => {
    if (!shown) return;
    const { row: r, col } = patchCell(queryPatch, shown.side);
    const move: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
    };
    const d = move[e.key];
    if (!d) return;
    e.preventDefault();
    const [nr, nc] = [r + d[0], col + d[1]];
    if (nr >= 0 && nr < shown.side && nc >= 0 && nc < shown.side)
      setQueryPatch(nr * shown.side + nc);
  };

  const title = `Attention: ${run.name}`;
  const cap = shown && attentionCaption(run, shown, head, query);
  const note =
    'Colour: the query’s attention probability on each patch (its row sums to 1); hatched: masked, the query may not attend it; outlined: the query. Positions before S are the bidirectional prefix, later ones attend causally.';
  const imageCount = shown?.imageCount;
  return (
    <figure className="chart" aria-label={`${title} map`} data-testid="query-attention">
      <Controls>
        <label htmlFor={`${id}-image`}>Image</label>
        <input
          id={`${id}-image`}
          type="number"
          min={1}
          max={imageCount}
          value={imageIndex + 1}
          style={{ width: '4.5rem' }}
          data-testid="query-attention-image"
          onChange={(e) => {
            const v = Math.round(Number(e.target.value)) - 1;
            if (Number.isFinite(v) && v >= 0 && (imageCount === undefined || v < imageCount))
              setImageIndex(v);
          }}
        />
        {imageCount !== undefined && <span className="muted small">of {imageCount}</span>}
        <label htmlFor={`${id}-block`}>Block</label>
        <select
          id={`${id}-block`}
          value={block}
          onChange={(e) => setBlock(Number(e.target.value))}
          data-testid="query-attention-block"
        >
          {Array.from({ length: depth }, (_, l) => (
            <option key={l} value={l}>
              {l + 1} of {depth}
            </option>
          ))}
        </select>
        <label htmlFor={`${id}-head`}>Head</label>
        <select
          id={`${id}-head`}
          value={String(head)}
          onChange={(e) => setHead(e.target.value === 'mean' ? 'mean' : Number(e.target.value))}
          data-testid="query-attention-head"
        >
          <option value="mean">mean over heads</option>
          {Array.from({ length: heads }, (_, h) => (
            <option key={h} value={h}>
              {h + 1}
            </option>
          ))}
        </select>
      </Controls>
      <Controls>
        <label htmlFor={`${id}-mask`}>Mask</label>
        <select
          id={`${id}-mask`}
          value={mode}
          onChange={(e) => setMode(e.target.value as MaskMode)}
          data-testid="query-attention-mask"
        >
          <option value="prefix">prefix S (as in training)</option>
          <option value="causal">causal (S = 1){run.settings.prefix ? '' : ', as trained'}</option>
          <option value="bidirectional">bidirectional (as a probe sees it)</option>
        </select>
        {mode === 'prefix' && (
          <>
            <input
              type="range"
              min={1}
              max={K - 1}
              value={drawn}
              aria-label="Prefix length S"
              onChange={(e) => setDrawn(Number(e.target.value))}
              data-testid="query-attention-prefix"
            />
            <span style={{ minWidth: '3.5rem' }}>S = {drawn}</span>
            <button
              type="button"
              className="small secondary"
              onClick={() => setDrawn(1 + Math.floor(Math.random() * (K - 1)))}
              title="Draw S from U{1 … K−1}, as training does"
            >
              Draw S
            </button>
          </>
        )}
        <label className="checkbox">
          <input
            type="checkbox"
            checked={arrangement === 'sequence'}
            onChange={(e) => setArrangement(e.target.checked ? 'sequence' : 'image')}
            data-testid="query-attention-sequence"
          />
          Grid in sequence order
        </label>
      </Controls>
      <figcaption className="chart-head">
        <span className="chart-title">{title}</span>
        <span className="chart-actions">
          {busy && <span className="muted small">computing…</span>}
          <button
            type="button"
            className="small secondary"
            disabled={!drawing}
            data-testid="query-attention-png"
            onClick={() =>
              drawing &&
              cap &&
              void renderAttentionPng(drawing, title, cap, note).then((blob) =>
                downloadBlob(attentionFileName(run, shown!, head, queryPatch), blob),
              )
            }
          >
            PNG
          </button>
        </span>
      </figcaption>
      {error?.name === 'NoCheckpointError' ? (
        <p className="muted" data-testid="query-attention-missing">
          No checkpoint of this run is stored in this browser (a run imported from a file carries no
          weights), so its attention cannot be computed.
        </p>
      ) : (
        error && (
          <ErrorNotice
            error={error}
            context="The attention could not be computed."
            testId="query-attention-error"
          />
        )
      )}
      {drawing && row && shown && (
        <>
          <div
            style={{ display: 'flex', flexWrap: 'wrap', gap: '0.75rem', alignItems: 'flex-start' }}
          >
            <canvas
              ref={canvas}
              tabIndex={0}
              style={{ width: GRID, height: HEIGHT, display: 'block', cursor: 'crosshair' }}
              role="img"
              aria-label={`${title}: query at ${describe(queryPatch)}; click a patch to choose another, or use the arrow keys`}
              onClick={(e) => {
                const c = cellAt(e);
                if (c !== undefined) setQueryPatch(patchOfCell(c));
              }}
              onKeyDown={onKey}
              onMouseMove={onMove}
              onMouseLeave={() => setHover(undefined)}
              data-testid="query-attention-canvas"
              data-caption={cap}
              data-grid={shown.side}
              data-cell-px={GRID / shown.side}
              data-arrangement={arrangement}
              data-query={queryPatch}
              data-query-position={query}
              data-prefix={shown.prefix}
              data-block={shown.block}
              data-head={head}
              data-image={shown.imageIndex}
              data-order={shown.order.join(',')}
              data-cells={[...row.image].join(',')}
              data-attended={row.attendedImage.map((a) => (a ? 1 : 0)).join('')}
            />
            {arrangement === 'image' && (
              <PictureCanvas picture={shown.picture} side={shown.side} queryPatch={queryPatch} />
            )}
          </div>
          <p className="muted small" style={{ margin: '0.2rem 0 0', maxWidth: GRID + 120 }}>
            {hover !== undefined ? describe(hover) : note}
          </p>
        </>
      )}
      {!drawing && !error && <p className="muted">Computing the attention…</p>}
    </figure>
  );
}

/** The view under the Runs tab's charts: the first chosen run that is not training. */
export function QueryAttentionMaps({ runs }: { runs: readonly RunRecord[] }) {
  const ready = runs.filter((r) => !isActive(r));
  const [chosen, setChosen] = useState<string>();
  const run = ready.find((r) => r.id === chosen) ?? ready[0];
  // Computed on request: the float64 forward occupies the worker (seconds for aim-small).
  const [open, setOpen] = useState(false);
  if (runs.length === 0) return null;
  return (
    <div data-testid="query-attention-view" style={{ marginTop: '0.75rem' }}>
      <h4 style={{ margin: '0 0 0.2rem' }}>Attention of a query patch</h4>
      <p className="muted small" style={{ marginTop: 0 }}>
        Where the trained model looks from one patch: its attention over the image’s patches in one
        block, computed from the run’s last checkpoint (float64, in the worker). Click a patch to
        make it the query.
      </p>
      {open && ready.length > 1 && (
        <div className="chart-controls">
          <label>
            Run{' '}
            <select
              value={run?.id}
              onChange={(e) => setChosen(e.target.value)}
              data-testid="query-attention-run"
            >
              {ready.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {run && !open ? (
        <button
          type="button"
          className="secondary"
          onClick={() => setOpen(true)}
          data-testid="query-attention-open"
        >
          Show the attention
        </button>
      ) : run ? (
        <RunAttention key={run.id} run={run} />
      ) : (
        <p className="muted" data-testid="query-attention-training">
          The selected runs are still training: their attention is shown once one is finished or
          stopped.
        </p>
      )}
    </div>
  );
}
