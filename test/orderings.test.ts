import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../src/model/config';
import {
  FIXED_RANDOM_ORDER_SEED,
  isPermutation,
  ORDERINGS,
  patchOrder,
  runPatchOrder,
} from '../src/model/orderings';
import { mulberry32 } from '../src/reference/random';
import { DEFAULT_SETTINGS, type RunSettings } from '../src/training/settings';

/** ml-l3m's FIXED_RANDOM_PATTERNS, as the shared reference folder holds them. */
const ML_L3M_TABLES = JSON.parse(
  readFileSync(
    new URL('../../shared/reference/ml-l3m-random-orders.json', import.meta.url),
    'utf8',
  ),
) as Record<string, number[]>;

/**
 * ml-aim.md's spiral rule, derived ring by ring instead of cell by cell (so it is not the
 * product's walk restated): ring k goes down its left column, right along its bottom row, up
 * its right column and left along its top row back to the cell after its start; the rings
 * from the outside in, and the whole walk reversed.
 */
function spiralByRings(h: number, w: number): number[] {
  const walk: number[] = [];
  for (let k = 0; 2 * k < Math.min(h, w); k++) {
    const [top, bottom, left, right] = [k, h - 1 - k, k, w - 1 - k];
    for (let r = top; r <= bottom; r++) walk.push(r * w + left);
    for (let c = left + 1; c <= right; c++) walk.push(bottom * w + c);
    if (right > left) for (let r = bottom - 1; r >= top; r--) walk.push(r * w + right);
    if (bottom > top) for (let c = right - 1; c > left; c--) walk.push(top * w + c);
  }
  return walk.reverse();
}

/** Fisher–Yates from the documented constant (the table for grids ml-l3m has none for). */
function documentedRandom(n: number): number[] {
  const next = mulberry32((FIXED_RANDOM_ORDER_SEED + n) >>> 0);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

describe('autoregression orderings (ml-l3m ar_patterns.py)', () => {
  it('raster is row-major', () => {
    expect(patchOrder('raster', 4, 4)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ]);
  });

  it('spiral is ml-l3m’s reversed outside-in walk down column 0 (4×4, 5×5, 3×7 pinned)', () => {
    // The 4×4 sequence is ml-aim.md's; 5×5 and 3×7 were worked out by hand from the rule.
    expect(patchOrder('spiral', 4, 4)).toEqual([
      6, 10, 9, 5, 1, 2, 3, 7, 11, 15, 14, 13, 12, 8, 4, 0,
    ]);
    expect(patchOrder('spiral', 5, 5)).toEqual([
      12, 7, 8, 13, 18, 17, 16, 11, 6, 1, 2, 3, 4, 9, 14, 19, 24, 23, 22, 21, 20, 15, 10, 5, 0,
    ]);
    expect(patchOrder('spiral', 3, 7)).toEqual([
      12, 11, 10, 9, 8, 1, 2, 3, 4, 5, 6, 13, 20, 19, 18, 17, 16, 15, 14, 7, 0,
    ]);
    expect(patchOrder('spiral', 2, 2)).toEqual([1, 3, 2, 0]);
  });

  it('spiral equals the ring-by-ring derivation on 4×4, 5×5, 8×8, 14×14, 16×16 and non-square grids', () => {
    for (const [h, w] of [
      [1, 1],
      [1, 5],
      [5, 1],
      [2, 3],
      [4, 4],
      [5, 5],
      [7, 3],
      [8, 8],
      [14, 14],
      [16, 16],
    ]) {
      expect(patchOrder('spiral', h, w), `${h}×${w}`).toEqual(spiralByRings(h, w));
    }
    // Ends at (0, 0), the walk's start; starts inside the grid's central ring.
    expect(patchOrder('spiral', 16, 16).at(-1)).toBe(0);
    expect(patchOrder('spiral', 16, 16)[0]).toBe(7 * 16 + 8);
    expect(patchOrder('spiral', 14, 14)[0]).toBe(6 * 14 + 7);
    expect(patchOrder('spiral', 8, 8)[0]).toBe(3 * 8 + 4);
  });

  it('checkerboard takes the even cells, then the odd ones (4×4 and 5×5 pinned)', () => {
    expect(patchOrder('checkerboard', 4, 4)).toEqual([
      0, 2, 5, 7, 8, 10, 13, 15, 1, 3, 4, 6, 9, 11, 12, 14,
    ]);
    expect(patchOrder('checkerboard', 5, 5)).toEqual([
      0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23,
    ]);
  });

  it('random on 14×14 and 16×16 is ml-l3m’s published table', () => {
    expect(Object.keys(ML_L3M_TABLES).sort()).toEqual(['196', '256']);
    expect(patchOrder('random', 14, 14)).toEqual(ML_L3M_TABLES['196']);
    expect(patchOrder('random', 16, 16)).toEqual(ML_L3M_TABLES['256']);
  });

  it('random on other grids is the documented fixed table (4×4, 5×5 and 8×8 pinned)', () => {
    // Pinned so that a change of generator, shuffle or constant (which would silently change
    // every run's "random") is noticed.
    expect(patchOrder('random', 4, 4)).toEqual(PINNED_RANDOM_4x4);
    expect(patchOrder('random', 5, 5)).toEqual(PINNED_RANDOM_5x5);
    for (const n of [2, 4, 8]) expect(patchOrder('random', n, n)).toEqual(documentedRandom(n * n));
    expect(patchOrder('random', 8, 8)).not.toEqual(patchOrder('raster', 8, 8));
  });

  it('an explicit pattern seed draws another fixed pattern, the same for the same seed', () => {
    const a = patchOrder('random', 16, 16, 7);
    expect(patchOrder('random', 16, 16, 7)).toEqual(a);
    expect(a).not.toEqual(ML_L3M_TABLES['256']);
    expect(patchOrder('random', 16, 16, 8)).not.toEqual(a);
    expect(isPermutation(a, 256)).toBe(true);
    // The pattern seed touches "random" only.
    expect(patchOrder('spiral', 5, 5, 7)).toEqual(patchOrder('spiral', 5, 5));
  });

  it('a run’s seed does not change its random ordering', () => {
    for (const preset of ['aim-micro', 'aim-tiny'] as const) {
      const config = PRESETS[preset];
      // Whole run settings, as the trainer passes them, differing only in the seed.
      const run = (seed: number): RunSettings => ({
        ...DEFAULT_SETTINGS,
        ordering: 'random',
        seed,
      });
      const a = runPatchOrder(run(1), config);
      const b = runPatchOrder(run(2), config);
      expect(b, preset).toEqual(a);
      const side = config.imageSize / config.patchSize;
      expect(a, preset).toEqual(patchOrder('random', side, side));
    }
  });

  it('every ordering is a permutation on square and non-square grids', () => {
    for (const ordering of ORDERINGS) {
      for (const [h, w] of [
        [1, 1],
        [1, 5],
        [2, 1],
        [4, 4],
        [5, 5],
        [3, 7],
        [8, 8],
        [14, 14],
        [16, 16],
        [13, 17],
      ]) {
        expect(isPermutation(patchOrder(ordering, h, w), h * w), `${ordering} ${h}×${w}`).toBe(
          true,
        );
      }
    }
  });
});

const PINNED_RANDOM_4x4 = [8, 9, 11, 15, 12, 5, 4, 6, 1, 2, 14, 7, 10, 3, 13, 0];
const PINNED_RANDOM_5x5 = [
  1, 12, 5, 14, 24, 11, 10, 9, 20, 22, 3, 8, 2, 19, 0, 15, 7, 16, 6, 4, 21, 17, 13, 23, 18,
];
