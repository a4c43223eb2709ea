/**
 * The row gather (shaders/gather_rows.wgsl) and the patch MSE loss on gathered prediction
 * rows, against their float64 references, through the same cases the browser runs
 * (src/diagnostics/headRowCases.ts) plus the edge cases: one row of width 1, a width not a
 * multiple of the workgroup, an out-of-range index (NaN), and rows over a folded 2-D grid.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import { gatherRows, NO_ROW } from '../src/kernels/gatherRows';
import { gatheredPatchMseLossCase, gatherRowsCase } from '../src/diagnostics/headRowCases';
import { gatherRowsReference } from '../src/reference/gatherRows';
import { randomF32 } from '../src/reference/random';
import { testGpu } from './gpuContext';

describe('gather rows', () => {
  const cases = [
    gatherRowsCase('1 of 1×1', 1, 1, [0], false),
    gatherRowsCase('9 of 7×33, two absent', 7, 33, [6, 0, NO_ROW, 3, 3, 1, NO_ROW, 5, 2], false),
    gatherRowsCase('+= 4 of 5×1, one absent', 5, 1, [4, NO_ROW, 0, 2], true),
    gatherRowsCase('+= 300 of 300×200 reversed', 300, 200, [...Array(300).keys()].reverse(), true),
  ];
  for (const c of cases) {
    it(`${c.name} equals the reference, and a wrong row fails the grade`, async () => {
      const ctx = await testGpu();
      const x = c.inputs();
      const got = await c.run(ctx, x);
      expect(c.grade(x, got)).toBeLessThanOrEqual(1);
      const wrong = { out: [...got.out] };
      wrong.out[wrong.out.length - 1] += 1e-3;
      expect(c.grade(x, wrong)).toBeGreaterThan(1);
    });
  }

  it('an index past the source rows gives a NaN row; absent rows are zeros', async () => {
    const ctx = await testGpu();
    const srcValues = randomF32(6, 3);
    const src = Tensor.fromArray(ctx, [3, 2], 'f32', srcValues, 'src');
    const index = Tensor.fromArray(ctx, [3], 'u32', [2, 3, NO_ROW], 'index');
    const out = Tensor.fromArray(ctx, [3, 2], 'f32', [5, 5, 5, 5, 5, 5], 'out');
    const got = await (await gatherRows(ctx, { src, index, out })).download();
    expect(Array.from(got.subarray(0, 2))).toEqual(Array.from(srcValues.subarray(4, 6)));
    expect(got.subarray(2, 4).every(Number.isNaN)).toBe(true);
    expect(Array.from(got.subarray(4))).toEqual([0, 0]);
    const ref = gatherRowsReference(srcValues, [2, 3, NO_ROW], 2);
    expect(ref.subarray(2, 4).every(Number.isNaN)).toBe(true);
    for (const t of [src, index, out]) t.destroy();
  });

  it('refuses an out of the wrong size or aliasing src', async () => {
    const ctx = await testGpu();
    const src = Tensor.empty(ctx, [4, 3], 'f32', 'src');
    const index = Tensor.fromArray(ctx, [2], 'u32', [0, 1], 'index');
    const out = Tensor.empty(ctx, [3, 3], 'f32', 'out');
    await expect(gatherRows(ctx, { src, index, out })).rejects.toThrow(/out/);
    await expect(gatherRows(ctx, { src, index, out: src.slice(0, [2, 3]) })).rejects.toThrow(
      /same buffer/,
    );
    for (const t of [src, index, out]) t.destroy();
  });
});

describe('patch MSE loss on gathered rows', () => {
  const cases = [
    gatheredPatchMseLossCase('B=3 K=17 P=48, S = 1, 16, 7', 3, 17, 48, [1, 16, 7]),
    gatheredPatchMseLossCase('B=1 K=2 P=2, S = 1', 1, 2, 2, [1]),
    gatheredPatchMseLossCase('B=2 K=5 P=7, S = K − 1, 0', 2, 5, 7, [4, 0]),
  ];
  for (const c of cases) {
    it(`${c.name}: per-position losses, loss and gradient rows equal the reference`, async () => {
      const ctx = await testGpu();
      const x = c.inputs();
      const got = await c.run(ctx, x);
      expect(c.grade(x, got)).toBeLessThanOrEqual(1);
      // The padding rows' gradient is written (zeros over the 9s the case starts from).
      const values = got.gradPred.length / x.rows.length;
      expect(got.gradPred.slice(-2 * values).every((v) => v === 0)).toBe(true);
      const wrong = { ...got, perPosition: [...got.perPosition] };
      wrong.perPosition[0] += 0.01;
      expect(c.grade(x, wrong)).toBeGreaterThan(1);
    });
  }
});
