/**
 * Autoregression orderings (the paper's Table 3b / Figure 7). An ordering is a permutation
 * of the h×w patch grid: token t of the sequence is the patch at raster index order[t].
 * Positional embeddings follow each patch's true 2-D position, so only the prediction
 * order changes.
 */
import { mulberry32 } from '../reference/random';

export const ORDERINGS = ['raster', 'spiral', 'checkerboard', 'random'] as const;
export type Ordering = (typeof ORDERINGS)[number];

/** Row-major: 0, 1, …, h·w − 1. */
export function rasterOrder(h: number, w: number): number[] {
  return Array.from({ length: h * w }, (_, i) => i);
}

/**
 * From the centre spiralling out, clockwise: start at cell ((h−1)/2, (w−1)/2) rounded down,
 * then steps right 1, down 1, left 2, up 2, right 3, down 3, … keeping the cells inside the
 * grid, until every cell is taken.
 */
export function spiralOrder(h: number, w: number): number[] {
  const order: number[] = [];
  let row = Math.floor((h - 1) / 2);
  let col = Math.floor((w - 1) / 2);
  const take = () => {
    if (row >= 0 && row < h && col >= 0 && col < w) order.push(row * w + col);
  };
  take();
  const directions = [
    [0, 1], // right
    [1, 0], // down
    [0, -1], // left
    [-1, 0], // up
  ] as const;
  let run = 1;
  let turn = 0;
  while (order.length < h * w) {
    // Each run length is used twice (right+down, left+up), then grows by one.
    for (let repeat = 0; repeat < 2 && order.length < h * w; repeat++) {
      const [dr, dc] = directions[turn % 4];
      for (let s = 0; s < run; s++) {
        row += dr;
        col += dc;
        take();
      }
      turn++;
    }
    run++;
  }
  return order;
}

/** Cells with (row + col) even in raster order, then the odd ones in raster order. */
export function checkerboardOrder(h: number, w: number): number[] {
  const all = rasterOrder(h, w);
  const parity = (i: number) => (Math.floor(i / w) + (i % w)) % 2;
  return [...all.filter((i) => parity(i) === 0), ...all.filter((i) => parity(i) === 1)];
}

/** One fixed permutation drawn from the seed (Fisher–Yates), the same for every image of a run. */
export function randomOrder(h: number, w: number, seed: number): number[] {
  const order = rasterOrder(h, w);
  const next = mulberry32(seed ^ 0x5eed0dd);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export function patchOrder(ordering: Ordering, h: number, w: number, seed = 0): number[] {
  switch (ordering) {
    case 'raster':
      return rasterOrder(h, w);
    case 'spiral':
      return spiralOrder(h, w);
    case 'checkerboard':
      return checkerboardOrder(h, w);
    case 'random':
      return randomOrder(h, w, seed);
  }
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
