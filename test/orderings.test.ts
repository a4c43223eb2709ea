import { describe, expect, it } from 'vitest';
import { isPermutation, ORDERINGS, patchOrder } from '../src/model/orderings';

describe('autoregression orderings', () => {
  it('raster is row-major', () => {
    expect(patchOrder('raster', 4, 4)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ]);
  });

  it('spiral starts at the centre and turns clockwise (4×4 and 5×5 pinned)', () => {
    // 4×4: centre (1,1) → right (1,2) → down (2,2) → left (2,1),(2,0) → up (1,0),(0,0) → …
    expect(patchOrder('spiral', 4, 4)).toEqual([
      5, 6, 10, 9, 8, 4, 0, 1, 2, 3, 7, 11, 15, 14, 13, 12,
    ]);
    expect(patchOrder('spiral', 5, 5)).toEqual([
      12, 13, 18, 17, 16, 11, 6, 7, 8, 9, 14, 19, 24, 23, 22, 21, 20, 15, 10, 5, 0, 1, 2, 3, 4,
    ]);
  });

  it('checkerboard takes the even cells, then the odd ones (4×4 and 5×5 pinned)', () => {
    expect(patchOrder('checkerboard', 4, 4)).toEqual([
      0, 2, 5, 7, 8, 10, 13, 15, 1, 3, 4, 6, 9, 11, 12, 14,
    ]);
    expect(patchOrder('checkerboard', 5, 5)).toEqual([
      0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23,
    ]);
  });

  it('random is a fixed permutation per seed (4×4 and 5×5 pinned)', () => {
    const a = patchOrder('random', 4, 4, 7);
    expect(patchOrder('random', 4, 4, 7)).toEqual(a);
    expect(patchOrder('random', 4, 4, 8)).not.toEqual(a);
    // Pinned so that a change of generator or shuffle (which would silently change runs) is noticed.
    expect(a).toEqual(PINNED_RANDOM_4x4_SEED7);
    expect(patchOrder('random', 5, 5, 7)).toEqual(PINNED_RANDOM_5x5_SEED7);
  });

  it('every ordering is a permutation on square and non-square grids', () => {
    for (const ordering of ORDERINGS) {
      for (const [h, w] of [
        [1, 1],
        [1, 5],
        [4, 4],
        [5, 5],
        [3, 7],
        [8, 8],
        [16, 16],
      ]) {
        expect(isPermutation(patchOrder(ordering, h, w, 3), h * w), `${ordering} ${h}×${w}`).toBe(
          true,
        );
      }
    }
  });
});

const PINNED_RANDOM_4x4_SEED7 = [15, 7, 12, 9, 5, 8, 11, 3, 0, 2, 4, 1, 10, 13, 14, 6];
const PINNED_RANDOM_5x5_SEED7 = [
  22, 17, 6, 7, 4, 12, 24, 13, 11, 10, 1, 15, 16, 14, 2, 20, 19, 0, 5, 8, 3, 18, 21, 23, 9,
];
