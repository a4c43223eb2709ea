import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import { flatGrid } from '../src/gpu/dispatch';
import { accumulate, add, fill, scale } from '../src/kernels/elementwise';
import { FLAT_WORKGROUP } from '../src/kernels/flat';
import { accumulateReference, addReference, scaleReference } from '../src/reference/elementwise';
import { F32_UNIT_ROUNDOFF as U } from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

// Each f32 operation is correctly rounded: |fl(v) − v| ≤ u·|v| (u = 2⁻²⁴). One operation
// per value (add, scale) gives u·|want|; accumulate's y + α·x rounds twice (or once when
// fused), ≤ u·|α·x| + u·(|y| + |α·x|). A value at the wrong index is off by O(1).
// Number.MIN_VALUE keeps 0/0 out of the ratio where want is exactly 0.
const tiny = Number.MIN_VALUE;

describe('elementwise.wgsl against float64', () => {
  for (const n of [1, 255, 257, 1000]) {
    it(`add, n = ${n}`, async () => {
      const ctx = await testGpu();
      const aData = randomF32(n, n);
      const bData = randomF32(n, n + 1);
      const a = Tensor.fromArray(ctx, [n], 'f32', aData, 'a');
      const b = Tensor.fromArray(ctx, [n], 'f32', bData, 'b');
      const c = await add(ctx, { a, b });
      const want = addReference(aData, bData);
      expect(
        worstRatio(await c.download(), want, (i) => U * Math.abs(want[i]) + tiny),
      ).toBeLessThanOrEqual(1);
      for (const t of [a, b, c]) t.destroy();
    });
  }

  for (const alpha of [1, -0.37]) {
    it(`accumulate y += ${alpha}·x, shape [3, 5, 17]`, async () => {
      const ctx = await testGpu();
      const n = 3 * 5 * 17;
      const yData = randomF32(n, 10);
      const xData = randomF32(n, 11);
      const y = Tensor.fromArray(ctx, [3, 5, 17], 'f32', yData, 'y');
      const x = Tensor.fromArray(ctx, [3, 5, 17], 'f32', xData, 'x');
      await accumulate(ctx, { target: y, x }, { alpha });
      const a = Math.fround(alpha); // the uniform holds alpha as f32
      const want = accumulateReference(yData, xData, a);
      const tol = (i: number) =>
        U * Math.abs(a * xData[i]) + U * (Math.abs(yData[i]) + Math.abs(a * xData[i])) + tiny;
      expect(worstRatio(await y.download(), want, tol)).toBeLessThanOrEqual(1);
      x.destroy();
      y.destroy();
    });
  }

  it('scale into a new buffer and in place (alpha not representable in f32)', async () => {
    const ctx = await testGpu();
    const n = 300;
    const xData = randomF32(n, 20, -100, 100);
    const x = Tensor.fromArray(ctx, [n], 'f32', xData, 'x');
    const out = Tensor.empty(ctx, [n], 'f32', 'out');
    const alpha = 0.1;
    const want = scaleReference(xData, Math.fround(alpha));
    const tol = (i: number) => U * Math.abs(want[i]) + tiny;
    await scale(ctx, { x, out }, { alpha });
    expect(worstRatio(await out.download(), want, tol)).toBeLessThanOrEqual(1);
    expect(await x.download()).toEqual(xData); // untouched
    await scale(ctx, { x }, { alpha });
    expect(worstRatio(await x.download(), want, tol)).toBeLessThanOrEqual(1);
    x.destroy();
    out.destroy();
  });

  it('fill sets every value, n = 257', async () => {
    const ctx = await testGpu();
    const y = Tensor.fromArray(ctx, [257], 'f32', randomF32(257, 3), 'y');
    await fill(ctx, { y }, { value: -2.5 });
    expect([...(await y.download())].every((v) => v === -2.5)).toBe(true);
    await fill(ctx, { y }, { value: 0 });
    expect([...(await y.download())].every((v) => v === 0)).toBe(true);
    y.destroy();
  });

  it('more than 65535 workgroups: the 2-D grid is folded back to the right indices', async () => {
    const ctx = await testGpu();
    const limit = ctx.capabilities.limits.maxComputeWorkgroupsPerDimension;
    const n = limit * FLAT_WORKGROUP + 3 * FLAT_WORKGROUP + 5; // 2-D grid with a ragged end
    expect(flatGrid(ctx, Math.ceil(n / FLAT_WORKGROUP))[1]).toBe(2);
    // Small integers times 2 are exact in f32: any value at a wrong index shows as a mismatch.
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = i % 4099;
    const x = Tensor.fromArray(ctx, [n], 'f32', data, 'x');
    await scale(ctx, { x }, { alpha: 2 });
    const got = await x.download();
    let bad = -1;
    for (let i = 0; i < n; i++) {
      if (got[i] !== 2 * (i % 4099)) {
        bad = i;
        break;
      }
    }
    expect(bad).toBe(-1);
    x.destroy();
  });

  it('flatGrid covers every workgroup and respects the limit', async () => {
    const ctx = await testGpu();
    const limit = ctx.capabilities.limits.maxComputeWorkgroupsPerDimension;
    for (const count of [1, limit, limit + 1, 3 * limit - 1, 1000 * limit + 7]) {
      const [x, y] = flatGrid(ctx, count);
      expect(x).toBeLessThanOrEqual(limit);
      expect(y).toBeLessThanOrEqual(limit);
      expect(x * y).toBeGreaterThanOrEqual(count);
      expect(x * (y - 1)).toBeLessThan(count); // no all-idle row of workgroups
    }
  });

  it('rejects mismatched sizes and aliasing with clear messages', async () => {
    const ctx = await testGpu();
    const a = Tensor.empty(ctx, [4], 'f32', 'a');
    const b = Tensor.empty(ctx, [2, 2], 'f32', 'b'); // same size, other shape: fine
    const c = Tensor.empty(ctx, [5], 'f32', 'c');
    await expect(add(ctx, { a, b: c })).rejects.toThrow(/add: b is \[5\]/);
    await expect(add(ctx, { a, b, out: a })).rejects.toThrow(
      /add: out must not be the same buffer as a/,
    );
    await expect(accumulate(ctx, { target: a, x: a })).rejects.toThrow(
      /accumulate: target must not be the same buffer as x/,
    );
    await expect(accumulate(ctx, { target: a, x: c })).rejects.toThrow(/accumulate: x is \[5\]/);
    await expect(scale(ctx, { x: a, out: c }, { alpha: 2 })).rejects.toThrow(/scale: out is \[5\]/);
    await add(ctx, { a, b, out: Tensor.empty(ctx, [4], 'f32', 'out') });
    for (const t of [a, b, c]) t.destroy();
  });
});
