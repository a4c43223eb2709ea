import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import { columnSum, columnSumPasses } from '../src/kernels/columnSum';
import { columnAbsSumReference, columnSumReference } from '../src/reference/elementwise';
import { gammaF32 } from '../src/reference/matmul';
import { mulberry32, randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Tolerance: any order of summing R values in f32 errs by at most γ_{R−1}·Σ|x| (Higham
 * §4.2); γ_{R+1} covers the accumulate's extra addition. For R = 600 rows of values in
 * [−1, 1] that is γ ≈ 3.6e-5 times Σ|x| ≈ 300, about 0.011 — far below the ~0.5 of one
 * dropped or doubled row (checked explicitly below).
 */
async function check(shape: number[], seed: number, accumulate = false): Promise<number> {
  const ctx = await testGpu();
  const cols = shape[shape.length - 1];
  const rows = size(shape) / cols;
  const data = randomF32(size(shape), seed);
  const previous = randomF32(cols, seed + 1);
  const x = Tensor.fromArray(ctx, shape, 'f32', data, 'x');
  const out = accumulate ? Tensor.fromArray(ctx, [cols], 'f32', previous, 'out') : undefined;
  const result = await columnSum(ctx, { x, out }, { accumulate });
  const want = columnSumReference(data, rows, cols);
  const abs = columnAbsSumReference(data, rows, cols);
  if (accumulate) for (let c = 0; c < cols; c++) want[c] += previous[c];
  const tol = (c: number) =>
    gammaF32(rows + 1) * (abs[c] + (accumulate ? Math.abs(previous[c]) : 0)) + 1e-30;
  const ratio = worstRatio(await result.download(), want, tol);
  x.destroy();
  result.destroy();
  return ratio;
}

describe('column_sum.wgsl against float64', () => {
  const shapes: Array<[string, number[]]> = [
    ['1×1', [1, 1]],
    ['1×5 (one row)', [1, 5]],
    ['5×1 (one column)', [5, 1]],
    ['130×3', [130, 3]],
    ['256×64 (exactly one chunk and one tile)', [256, 64]],
    ['257×65 (one past a chunk and a tile: two passes)', [257, 65]],
    ['600×130', [600, 130]],
    ['3-D [3, 7, 129]: rows = 21', [3, 7, 129]],
  ];
  for (const [name, shape] of shapes) {
    it(name, async () => {
      expect(await check(shape, size(shape))).toBeLessThanOrEqual(1);
    });
  }

  it('accumulate: out += column sums (two passes)', async () => {
    expect(await check([300, 7], 5, true)).toBeLessThanOrEqual(1);
  });

  it('70001 × 5 small integers (three passes): exact in f32, so compared for equality', async () => {
    // |every partial sum| ≤ 8·70001 < 2²⁴, so every f32 addition is exact in any order: the
    // result must equal the exact sum, and one dropped, doubled or misplaced row shows.
    const ctx = await testGpu();
    const rows = 70001;
    const cols = 5;
    expect(columnSumPasses(rows)).toEqual([70001, 274, 2]);
    const next = mulberry32(9);
    const data = Float32Array.from({ length: rows * cols }, () => Math.floor(next() * 17) - 8);
    const x = Tensor.fromArray(ctx, [rows, cols], 'f32', data, 'x');
    const out = await columnSum(ctx, { x });
    expect([...(await out.download())]).toEqual([...columnSumReference(data, rows, cols)]);
    x.destroy();
    out.destroy();
  });

  it('the tolerance catches a dropped row', () => {
    for (const [rows, cols] of [
      [600, 130],
      [257, 65],
    ]) {
      const data = randomF32(rows * cols, rows * cols);
      const want = columnSumReference(data, rows, cols);
      const dropped = columnSumReference(data.subarray(cols), rows - 1, cols);
      const abs = columnAbsSumReference(data, rows, cols);
      expect(worstRatio(dropped, want, (c) => gammaF32(rows + 1) * abs[c])).toBeGreaterThan(1);
    }
  });

  it('columnSumPasses plans one pass per factor of 256', () => {
    expect(columnSumPasses(1)).toEqual([1]);
    expect(columnSumPasses(256)).toEqual([256]);
    expect(columnSumPasses(257)).toEqual([257, 2]);
    expect(columnSumPasses(65536)).toEqual([65536, 256]);
    expect(columnSumPasses(65537)).toEqual([65537, 257, 2]);
  });

  it('rejects a wrong output size and aliasing', async () => {
    const ctx = await testGpu();
    const x = Tensor.empty(ctx, [4, 3], 'f32', 'x');
    const bad = Tensor.empty(ctx, [4], 'f32', 'bad');
    await expect(columnSum(ctx, { x, out: bad })).rejects.toThrow(/out is \[4\], expected \[3\]/);
    await expect(columnSum(ctx, { x }, { accumulate: true })).rejects.toThrow(/accumulate needs/);
    x.destroy();
    bad.destroy();
  });
});
