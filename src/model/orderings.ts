/**
 * Autoregression orderings (the paper's Table 3b / Figure 7), as ml-l3m's
 * `l3m/helpers/vision/ar_patterns.py` defines them. An ordering is a permutation of the h×w
 * patch grid: token t of the sequence is the patch at raster index order[t]. Positional
 * embeddings follow each patch's true 2-D position, so only the prediction order changes.
 */
import { mulberry32 } from '../reference/random';
import { ML_L3M_RANDOM_ORDERS } from './randomOrderTables';

export const ORDERINGS = ['raster', 'spiral', 'checkerboard', 'random'] as const;
export type Ordering = (typeof ORDERINGS)[number];

/** Row-major: 0, 1, …, h·w − 1. */
export function rasterOrder(h: number, w: number): number[] {
  return Array.from({ length: h * w }, (_, i) => i);
}

/** ar_patterns.py's turn cycle, as (row, col) steps: down, right, up, left. */
const SPIRAL_TURNS = [
  [1, 0],
  [0, 1],
  [-1, 0],
  [0, -1],
] as const;

/**
 * ml-l3m's spiral (`get_spiral_permutation`): walk from cell (0, 0) down column 0, turning to
 * the next direction of down → right → up → left whenever the next cell would leave the grid
 * or was visited, until every cell is taken — then reverse that walk, so the sequence starts
 * near the centre and ends at (0, 0). 4×4: 6, 10, 9, 5, 1, 2, 3, 7, 11, 15, 14, 13, 12, 8, 4, 0.
 */
export function spiralOrder(h: number, w: number): number[] {
  const visited = new Uint8Array(h * w);
  const walk: number[] = [];
  const free = (r: number, c: number) => r >= 0 && r < h && c >= 0 && c < w && !visited[r * w + c];
  let row = 0;
  let col = 0;
  let turn = 0;
  for (let taken = 0; taken < h * w; taken++) {
    walk.push(row * w + col);
    visited[row * w + col] = 1;
    if (taken === h * w - 1) break;
    // One turn always finds the next free cell of an outside-in spiral (as ar_patterns.py,
    // which turns at most once per step).
    if (!free(row + SPIRAL_TURNS[turn][0], col + SPIRAL_TURNS[turn][1])) turn = (turn + 1) % 4;
    row += SPIRAL_TURNS[turn][0];
    col += SPIRAL_TURNS[turn][1];
    if (row < 0 || row >= h || col < 0 || col >= w || visited[row * w + col])
      throw new Error(`the spiral walk of a ${h}×${w} grid got stuck at (${row}, ${col})`);
  }
  return walk.reverse();
}

/** Cells with (row + col) even in raster order, then the odd ones in raster order. */
export function checkerboardOrder(h: number, w: number): number[] {
  const all = rasterOrder(h, w);
  const parity = (i: number) => (Math.floor(i / w) + (i % w)) % 2;
  return [...all.filter((i) => parity(i) === 0), ...all.filter((i) => parity(i) === 1)];
}

/**
 * The constant from which the fixed random table of a grid without an ml-l3m table is drawn:
 * Fisher–Yates with mulberry32(FIXED_RANDOM_ORDER_SEED + h·w). Changing it changes "random"
 * for those grids in every run, so it is pinned by test/orderings.test.ts.
 */
export const FIXED_RANDOM_ORDER_SEED = 0x6c336d;

/** A Fisher–Yates shuffle of 0 … n − 1 with mulberry32(seed). */
function shuffledOrder(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const next = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * ml-l3m's fixed random ordering (`get_fixed_random_pattern`): one pre-sampled permutation per
 * number of patches, the same for every image and every run — a run's seed never changes it
 * (seeds and patterns would be confounded). 196 and 256 patches: ml-l3m's published tables;
 * any other grid: a Fisher–Yates table from FIXED_RANDOM_ORDER_SEED + h·w (ml-l3m has none).
 * `patternSeed`, when given, draws a different fixed pattern instead (Fisher–Yates with
 * mulberry32(patternSeed)) — an explicit choice of pattern, never the run's seed.
 */
export function randomOrder(h: number, w: number, patternSeed?: number): number[] {
  const n = h * w;
  if (patternSeed !== undefined) return shuffledOrder(n, patternSeed >>> 0);
  const published = ML_L3M_RANDOM_ORDERS[n];
  if (published) return [...published];
  return shuffledOrder(n, (FIXED_RANDOM_ORDER_SEED + n) >>> 0);
}

/** The ordering's permutation of an h×w grid; `patternSeed` only affects "random". */
export function patchOrder(
  ordering: Ordering,
  h: number,
  w: number,
  patternSeed?: number,
): number[] {
  switch (ordering) {
    case 'raster':
      return rasterOrder(h, w);
    case 'spiral':
      return spiralOrder(h, w);
    case 'checkerboard':
      return checkerboardOrder(h, w);
    case 'random':
      return randomOrder(h, w, patternSeed);
  }
}

/**
 * The permutation a training run uses: its ordering on the model's patch grid. Only the
 * ordering decides it — the run's seed does not (a seed must not change "random").
 */
export function runPatchOrder(
  run: { ordering: Ordering },
  grid: { imageSize: number; patchSize: number },
): number[] {
  const side = grid.imageSize / grid.patchSize;
  return patchOrder(run.ordering, side, side);
}

/** True if `order` is a permutation of 0 … n − 1. */
export function isPermutation(order: readonly number[], n: number): boolean {
  if (order.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const i of order) {
    if (!Number.isInteger(i) || i < 0 || i >= n || seen[i]) return false;
    seen[i] = 1;
  }
  return true;
}
