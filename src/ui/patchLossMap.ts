/**
 * The data behind the per-patch loss maps (issue 14, "Per-patch views"): a run's validation
 * loss per sequence position, put back on the image's patch grid through the run's ordering,
 * the difference of two runs on the same grid, and the colour maps and scales they are drawn
 * with. Pure functions: PatchLossMap.tsx draws what these return.
 */
import { PRESETS } from '../model/config';
import { runPatchOrder } from '../model/orderings';
import type { RunSettings } from '../training/settings';
import type { EvalMetrics } from '../training/trainer';

export type Rgb = readonly [number, number, number];

/** matplotlib's viridis at 0, 1/16, …, 15/16 and 1: perceptually uniform, colour-blind safe. */
const VIRIDIS: readonly Rgb[] = [
  [0x44, 0x01, 0x54],
  [0x48, 0x18, 0x6a],
  [0x47, 0x2d, 0x7b],
  [0x42, 0x40, 0x86],
  [0x3b, 0x52, 0x8b],
  [0x33, 0x63, 0x8d],
  [0x2c, 0x72, 0x8e],
  [0x26, 0x82, 0x8e],
  [0x21, 0x91, 0x8c],
  [0x1f, 0xa0, 0x88],
  [0x28, 0xae, 0x80],
  [0x3f, 0xbc, 0x73],
  [0x5e, 0xc9, 0x62],
  [0x84, 0xd4, 0x4b],
  [0xad, 0xdc, 0x30],
  [0xd8, 0xe2, 0x19],
  [0xfd, 0xe7, 0x25],
];

/** ColorBrewer RdBu (11 classes), blue (−1) through near-white (0) to red (+1): colour-blind safe. */
const RED_BLUE: readonly Rgb[] = [
  [0x05, 0x30, 0x61],
  [0x21, 0x66, 0xac],
  [0x43, 0x93, 0xc3],
  [0x92, 0xc5, 0xde],
  [0xd1, 0xe5, 0xf0],
  [0xf7, 0xf7, 0xf7],
  [0xfd, 0xdb, 0xc7],
  [0xf4, 0xa5, 0x82],
  [0xd6, 0x60, 0x4d],
  [0xb2, 0x18, 0x2b],
  [0x67, 0x00, 0x1f],
];

function interpolate(stops: readonly Rgb[], t: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [stops[i], stops[i + 1]];
  return [0, 1, 2].map((k) => Math.round(a[k] + f * (b[k] - a[k]))) as unknown as Rgb;
}

/** Viridis at t in [0, 1] (clamped): dark purple (low loss) to yellow (high loss). */
export function viridis(t: number): Rgb {
  return interpolate(VIRIDIS, t);
}

/** The diverging map at t in [−1, 1] (clamped): blue below 0, near-white at 0, red above. */
export function diverging(t: number): Rgb {
  return interpolate(RED_BLUE, (t + 1) / 2);
}

export function rgbCss(c: Rgb): string {
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** A colour scale: sequential (viridis over [min, max]) or diverging (centred on 0). */
export interface LossScale {
  kind: 'sequential' | 'diverging';
  min: number;
  max: number;
}

export function colourOf(value: number, scale: LossScale): Rgb {
  if (scale.kind === 'diverging') {
    const m = Math.max(Math.abs(scale.min), Math.abs(scale.max));
    return diverging(m > 0 ? value / m : 0);
  }
  const span = scale.max - scale.min;
  return viridis(span > 0 ? (value - scale.min) / span : 0.5);
}

/** The sequential scale of every finite value given (several maps may share one). */
export function sequentialScale(values: Iterable<number>): LossScale | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return min <= max ? { kind: 'sequential', min, max } : undefined;
}

/** The diverging scale symmetric about 0 that holds every finite value given. */
export function divergingScale(values: Iterable<number>): LossScale | undefined {
  let m = -Infinity;
  for (const v of values) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m >= 0 ? { kind: 'diverging', min: -m, max: m } : undefined;
}

/** `count` evenly spaced numbers from min to max for the legend (one when they are equal). */
export function legendTicks(scale: LossScale, count = 5): number[] {
  if (!(scale.max > scale.min)) return [scale.min];
  return Array.from(
    { length: count },
    (_, i) => scale.min + ((scale.max - scale.min) * i) / (count - 1),
  );
}

/** A loss for a legend or tooltip: 3 significant digits, a sign on differences. */
export function formatLoss(v: number, signed = false): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  const text = a >= 1e-3 || a === 0 ? String(Number(a.toPrecision(3))) : a.toExponential(2);
  return (v < 0 ? '−' : signed && v > 0 ? '+' : '') + text;
}

/** A run's patch grid: its side (h = w) and its ordering's permutation (sequence → raster). */
export interface PatchGrid {
  side: number;
  order: number[];
}

export function runGrid(settings: Pick<RunSettings, 'preset' | 'ordering'>): PatchGrid {
  const shape = PRESETS[settings.preset];
  if (!shape) throw new Error(`Unknown preset “${String(settings.preset)}”.`);
  // A record's permutation is not stored: it is recomputed from its ordering. Records made
  // before ml-l3m's spiral and random tables have no per-position losses, so none is misplaced.
  return { side: shape.imageSize / shape.patchSize, order: runPatchOrder(settings, shape) };
}

/** One run's map: the loss of every patch, in image space and in sequence order. */
export interface PatchLossMapData {
  step: number;
  side: number;
  order: number[];
  /** Loss of predicting each patch, in raster order (row-major); NaN for the first patch. */
  cells: number[];
  /** Sequence order: entry t is the loss of the ordering's patch t + 1 (t = 0 … K−2). */
  sequence: number[];
  /** Raster index of the sequence's first patch, which is never predicted. */
  firstPatch: number;
}

/**
 * Image space from sequence order: patch order[t + 1] gets positionLoss[t]; the first patch of
 * the ordering, order[0], is never predicted and gets NaN.
 */
export function cellsInImageSpace(
  positionLoss: readonly number[],
  order: readonly number[],
): number[] {
  if (positionLoss.length !== order.length - 1)
    throw new RangeError(
      `${positionLoss.length} per-position losses do not fit a grid of ${order.length} patches (${order.length - 1} expected).`,
    );
  const cells = new Array<number>(order.length).fill(NaN);
  positionLoss.forEach((v, t) => (cells[order[t + 1]] = v));
  return cells;
}

/** The newest evaluation that has per-position losses. */
export function newestPositionEval(
  evals: readonly EvalMetrics[],
): (EvalMetrics & { positionLoss: number[] }) | undefined {
  for (let i = evals.length - 1; i >= 0; i--) {
    const e = evals[i];
    if (Array.isArray(e.positionLoss)) return e as EvalMetrics & { positionLoss: number[] };
  }
  return undefined;
}

export type MapResult<T> = { map: T; reason?: undefined } | { map?: undefined; reason: string };

/** A run's map from its newest evaluation, or the sentence saying why there is none. */
export function patchLossMap(run: {
  settings: Pick<RunSettings, 'preset' | 'ordering'>;
  evals: readonly EvalMetrics[];
}): MapResult<PatchLossMapData> {
  if (run.evals.length === 0)
    return { reason: 'No evaluation yet: the map appears after the first one.' };
  const e = newestPositionEval(run.evals);
  if (!e)
    return {
      reason:
        'This run was recorded without per-patch losses (it predates them), so there is no map: train it again to see one.',
    };
  let grid: PatchGrid;
  try {
    grid = runGrid(run.settings);
  } catch (error) {
    return { reason: (error as Error).message };
  }
  // JSON keeps NaN as null: a position without a number is missing, not zero.
  const sequence = e.positionLoss.map((v) => (typeof v === 'number' ? v : NaN));
  if (sequence.length !== grid.order.length - 1)
    return {
      reason: `This run's evaluation at step ${e.step} has ${sequence.length} per-position losses, but its ${grid.side}×${grid.side} grid needs ${grid.order.length - 1}.`,
    };
  if (!sequence.some(Number.isFinite))
    return { reason: `This run's evaluation at step ${e.step} has no finite per-position loss.` };
  return {
    map: {
      step: e.step,
      side: grid.side,
      order: grid.order,
      cells: cellsInImageSpace(sequence, grid.order),
      sequence,
      firstPatch: grid.order[0],
    },
  };
}

/** Run A − run B, patch by patch in image space and position by position in sequence order. */
export interface DifferenceMapData {
  side: number;
  /** A − B per raster patch; NaN where either run never predicts that patch. */
  cells: number[];
  /** A − B per sequence position t (each run's own ordering). */
  sequence: number[];
}

export function differenceMap(
  a: PatchLossMapData,
  b: PatchLossMapData,
): MapResult<DifferenceMapData> {
  if (a.side !== b.side)
    return {
      reason: `The two runs have different patch grids (${a.side}×${a.side} and ${b.side}×${b.side}), so there is no difference map.`,
    };
  return {
    map: {
      side: a.side,
      cells: a.cells.map((v, i) => v - b.cells[i]),
      sequence: a.sequence.map((v, t) => v - b.sequence[t]),
    },
  };
}

/** Row and column of raster patch p on a side×side grid, for captions and tooltips. */
export function patchCell(p: number, side: number): { row: number; col: number } {
  return { row: Math.floor(p / side), col: p % side };
}

/** What one map's exported PNG says under its title. */
export function mapCaption(
  run: {
    name: string;
    settings: Pick<RunSettings, 'preset' | 'ordering' | 'prefix'>;
  },
  step: number,
): string {
  const s = run.settings;
  return `${run.name} · ${s.preset}, ${s.ordering} ordering, ${s.prefix ? 'prefix' : 'causal'} attention · validation loss (evaluated causally) at step ${step}`;
}

/** What a difference map's exported PNG says under its title. */
export function differenceCaption(
  a: { name: string; settings: Pick<RunSettings, 'ordering' | 'prefix'> },
  stepA: number,
  b: { name: string; settings: Pick<RunSettings, 'ordering' | 'prefix'> },
  stepB: number,
): string {
  const what = (r: typeof a, step: number) =>
    `${r.name} (${r.settings.ordering} ordering, ${r.settings.prefix ? 'prefix' : 'causal'} attention, step ${step})`;
  return `A − B: A = ${what(a, stepA)}, B = ${what(b, stepB)} · red: A's loss higher, blue: B's`;
}
