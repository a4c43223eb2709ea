import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import {
  prepareReduceSum,
  reducePassLengths,
  reduceSum,
  REDUCE_DEPTH_PER_PASS,
} from '../src/kernels/reduceSum';
import { foldedGrid, runOnce } from '../src/gpu/dispatch';
import { gammaF32 } from '../src/reference/matmul';
import { mulberry32 } from '../src/reference/random';
import { testGpu } from './gpuContext';

/**
 * Values with |x| in [0.5, 1) and random signs: every value is far above the tolerance of
 * the sums below, so a kernel that drops or repeats any one value (an off-by-one at a block
 * or thread boundary) fails, while the rounding error itself stays well inside.
 */
function awayFromZero(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (next() < 0.5 ? -1 : 1) * (0.5 + 0.5 * next()));
}

/** Nonzero integers in [−8, 8]: every partial sum is an integer < 2²⁴, so any order is exact. */
function smallIntegers(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => {
    const v = 1 + Math.floor(next() * 8);
    return next() < 0.5 ? -v : v;
  });
}

const sum64 = (x: ArrayLike<number>, f: (v: number) => number = (v) => v) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += f(x[i]);
  return s;
};

/**
 * Tolerance of a tree sum: each pass is a balanced binary tree of depth 10 (2 levels in an
 * invocation, 8 across the workgroup), so the whole sum is a tree of depth 10·passes and
 * |ŝ − s| ≤ γ_depth·Σ|x| (Higham §4.2), γ_d = d·u/(1 − d·u), u = 2⁻²⁴. For n = 100003 that
 * is γ_20 ≈ 1.2e-6 relative to Σ|x| — about log2(n) + 3 levels, as tight as pairwise gets.
 */
function treeTolerance(n: number, absSum: number): number {
  const depth = REDUCE_DEPTH_PER_PASS * reducePassLengths(n).length;
  return gammaF32(depth) * absSum + 1e-30;
}

async function gpuSum(
  x: Float32Array,
  opts: Parameters<typeof reduceSum>[2] = {},
  divideBy?: Tensor<'f32'>,
) {
  const ctx = await testGpu();
  const input = Tensor.fromArray(ctx, [x.length], 'f32', x, 'x');
  const out = await reduceSum(ctx, { x: input, divideBy }, opts);
  const [got] = await out.download();
  input.destroy();
  out.destroy();
  return got;
}

describe('reduce_sum.wgsl: Σx against float64', () => {
  for (const n of [1, 2, 255, 256, 257, 1023, 1024, 1025, 4097, 100003]) {
    it(`n = ${n}`, async () => {
      const x = awayFromZero(n, n);
      const want = sum64(x);
      const got = await gpuSum(x);
      expect(Math.abs(got - want) / treeTolerance(n, sum64(x, Math.abs))).toBeLessThanOrEqual(1);
    });
  }

  it('n = 100003 small integers: exact (any lost or repeated value shows)', async () => {
    const x = smallIntegers(100003, 3);
    expect(await gpuSum(x)).toBe(sum64(x));
  });

  it('n = 1048577 (three passes) small integers: exact', async () => {
    const x = smallIntegers(1048577, 4);
    expect(reducePassLengths(x.length)).toEqual([1025, 2, 1]);
    expect(await gpuSum(x)).toBe(sum64(x));
  });

  it('n = 0 sums to 0', async () => {
    expect(await gpuSum(new Float32Array(0))).toBe(0);
  });
});

describe('reduce_sum.wgsl: options', () => {
  it('sum of squares, n = 3001', async () => {
    const x = awayFromZero(3001, 11);
    const want = sum64(x, (v) => v * v);
    // One more rounding per term (the square): γ_{depth+1}·Σx².
    const tol = gammaF32(REDUCE_DEPTH_PER_PASS * 2 + 1) * want;
    expect(Math.abs((await gpuSum(x, { square: true })) - want) / tol).toBeLessThanOrEqual(1);
  });

  it('scale and divide by a GPU-held count: 0.25·Σx / 7, n = 2049', async () => {
    const ctx = await testGpu();
    const x = awayFromZero(2049, 12);
    const divisor = Tensor.fromArray(ctx, [1], 'f32', [7], 'divisor');
    const got = await gpuSum(x, { scale: 0.25 }, divisor);
    divisor.destroy();
    const want = (0.25 * sum64(x)) / 7;
    // Scaling by 0.25 is exact; WGSL's division is within 2.5 ulp (≤ 5u relative).
    const tol =
      (0.25 * treeTolerance(2049, sum64(x, Math.abs))) / 7 + 5 * 2 ** -24 * Math.abs(want);
    expect(Math.abs(got - want) / tol).toBeLessThanOrEqual(1);
  });

  it('writes only out[outIndex]', async () => {
    const ctx = await testGpu();
    const x = smallIntegers(3000, 13);
    const input = Tensor.fromArray(ctx, [x.length], 'f32', x, 'x');
    const out = Tensor.fromArray(ctx, [3], 'f32', [-1, -2, -3], 'out');
    await runOnce(ctx, await prepareReduceSum(ctx, { x: input, out }, { outIndex: 1 }));
    expect(Array.from(await out.download())).toEqual([-1, sum64(x), -3]);
    input.destroy();
    out.destroy();
  });

  it('folded 2-D grids (limit lowered to 5 and 7 workgroups per dimension) stay exact', async () => {
    const x = smallIntegers(100003, 14);
    // 98 blocks: 5 → a 5×20 grid with 2 surplus workgroups; 7 → 7×14 exactly.
    expect(foldedGrid(98, 5)).toEqual([5, 20]);
    expect(foldedGrid(98, 7)).toEqual([7, 14]);
    expect(await gpuSum(x, { gridLimit: 5 })).toBe(sum64(x));
    expect(await gpuSum(x, { gridLimit: 7 })).toBe(sum64(x));
  });
});

describe('reduceSum wrapper', () => {
  it('rejects an output index out of range and aliasing', async () => {
    const ctx = await testGpu();
    const x = Tensor.empty(ctx, [10], 'f32', 'x');
    const out = Tensor.empty(ctx, [2], 'f32', 'out');
    await expect(prepareReduceSum(ctx, { x, out }, { outIndex: 2 })).rejects.toThrow(/outIndex 2/);
    await expect(prepareReduceSum(ctx, { x, out: x })).rejects.toThrow(
      /reduceSum: out must not be the same buffer as x/,
    );
    x.destroy();
    out.destroy();
  });

  it('the tolerance is tight enough to see one dropped value', () => {
    for (const n of [257, 1025, 100003]) {
      const x = awayFromZero(n, n);
      const dropped = sum64(x) - x[n - 1];
      const ratio = Math.abs(dropped - sum64(x)) / treeTolerance(n, sum64(x, Math.abs));
      expect(ratio).toBeGreaterThan(1);
    }
  });
});
