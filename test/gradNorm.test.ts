import { describe, expect, it } from 'vitest';
import { runDispatches, releaseDispatch } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import { gradNorm, prepareGradNorm, type GradNormOptions } from '../src/kernels/gradNorm';
import { REDUCE_BLOCK, REDUCE_DEPTH_PER_PASS, reducePassLengths } from '../src/kernels/reduceSum';
import { clipGradNormReference } from '../src/reference/gradNorm';
import { gammaF32 } from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { testGpu } from './gpuContext';

const u = 2 ** -24;

/** Sizes from 1 value to well past one block, none (but 256/1024) a multiple of anything. */
const ODD_SIZES = [1, 2, 3, 255, 256, 257, 1023, 1024, 1025, 4099, 70001];

/**
 * Gradients in [−a, a], with the last value of tensor i set to (3 + i)·a: losing any one
 * tensor, or the last value of any tensor, changes Σg² by ≥ 9a², far beyond the tolerance.
 */
function makeGrads(sizes: readonly number[], seed: number, a: number): Float32Array[] {
  return sizes.map((n, i) => {
    const g = randomF32(n, seed + i, -a, a);
    g[n - 1] = (3 + i) * a;
    return g;
  });
}

/**
 * Relative error bound of the GPU norm. Σg² is a tree: one rounding for the square, depth 10
 * in the per-tensor pass, depth 10 per pass over the partials; all terms are ≥ 0, so
 * |Ŝ − S| ≤ γ_d·S. sqrt halves that and adds its own error: WGSL only promises sqrt to be as
 * accurate as 1/inverseSqrt (2 + 2.5 ulp ≤ 9u).
 */
function normRelativeTolerance(sizes: readonly number[]): number {
  const partials = sizes.reduce((s, n) => s + Math.max(1, Math.ceil(n / REDUCE_BLOCK)), 0);
  const depth = 1 + REDUCE_DEPTH_PER_PASS * (1 + reducePassLengths(partials).length);
  return gammaF32(depth) / 2 + 9 * u;
}

async function runGradNorm(grads: readonly Float32Array[], opts: GradNormOptions = {}) {
  const ctx = await testGpu();
  const tensors = grads.map((g, i) => Tensor.fromArray(ctx, [g.length], 'f32', g, `grad ${i}`));
  const norm = Tensor.empty(ctx, [1], 'f32', 'norm');
  const scale = Tensor.empty(ctx, [1], 'f32', 'clip scale');
  await gradNorm(ctx, { grads: tensors, norm, clipScale: scale }, opts);
  const [gotNorm] = await norm.download();
  const [gotScale] = await scale.download();
  for (const t of [...tensors, norm, scale]) t.destroy();
  return { norm: gotNorm, scale: gotScale };
}

describe('gradient norm: many tensors of odd sizes against float64', () => {
  it('norm > 1: clip scale = 1 / (norm + 1e-6) < 1', async () => {
    const grads = makeGrads(ODD_SIZES, 1, 0.01);
    const want = clipGradNormReference(grads, 1);
    expect(want.totalNorm).toBeGreaterThan(1);
    const got = await runGradNorm(grads);
    const rel = normRelativeTolerance(ODD_SIZES);
    expect(Math.abs(got.norm - want.totalNorm) / (rel * want.totalNorm)).toBeLessThanOrEqual(1);
    // maxNorm/(norm + 1e-6): the norm's error, one rounding for the add, 2.5 ulp for the division.
    const scaleTol = (rel + 6 * u) * want.clipScale;
    expect(Math.abs(got.scale - want.clipScale) / scaleTol).toBeLessThanOrEqual(1);
  });

  it('norm < maxNorm: clip scale is exactly 1', async () => {
    const grads = makeGrads([7, 300, 2000], 2, 1e-3);
    const want = clipGradNormReference(grads, 1);
    expect(want.totalNorm).toBeLessThan(1);
    const got = await runGradNorm(grads);
    expect(Math.abs(got.norm - want.totalNorm)).toBeLessThanOrEqual(
      normRelativeTolerance([7, 300, 2000]) * want.totalNorm,
    );
    expect(got.scale).toBe(1);
  });

  it('maxNorm 0.5, one tensor of one value: norm = |g|, scale = 0.5 / (|g| + 1e-6)', async () => {
    const got = await runGradNorm([Float32Array.of(-4)], { maxNorm: 0.5 });
    expect(got.norm).toBe(4);
    expect(Math.abs(got.scale - 0.5 / (4 + 1e-6))).toBeLessThanOrEqual(6 * u * 0.125);
  });

  it('torch adds 1e-6 to the norm: norm 1e-6 with maxNorm 1e-7 gives scale 0.05, not 0.1', async () => {
    const got = await runGradNorm([Float32Array.of(6e-7, 0), Float32Array.of(-8e-7)], {
      maxNorm: 1e-7,
    });
    const want = clipGradNormReference([[6e-7, 0], [-8e-7]], 1e-7);
    expect(want.clipScale).toBeCloseTo(0.05, 12);
    expect(Math.abs(got.norm - want.totalNorm)).toBeLessThanOrEqual(
      normRelativeTolerance([2, 1]) * want.totalNorm,
    );
    const scaleTol = (normRelativeTolerance([2, 1]) + 6 * u) * want.clipScale;
    expect(Math.abs(got.scale - want.clipScale) / scaleTol).toBeLessThanOrEqual(1);
  });

  it('a folded 2-D grid (limit lowered to 8 workgroups per dimension) gives the same norm', async () => {
    const grads = makeGrads([70001, 13], 3, 0.02);
    const want = clipGradNormReference(grads, 1);
    const got = await runGradNorm(grads, { gridLimit: 8 });
    expect(Math.abs(got.norm - want.totalNorm)).toBeLessThanOrEqual(
      normRelativeTolerance([70001, 13]) * want.totalNorm,
    );
  });

  it('the tolerance sees a lost tensor of one value and a lost last value', () => {
    const grads = makeGrads(ODD_SIZES, 1, 0.01);
    const want = clipGradNormReference(grads, 1).totalNorm;
    const withoutFirst = clipGradNormReference(grads.slice(1), 1).totalNorm;
    const withoutLast = clipGradNormReference(
      grads.map((g, i) => (i === grads.length - 1 ? g.subarray(0, g.length - 1) : g)),
      1,
    ).totalNorm;
    const tol = normRelativeTolerance(ODD_SIZES) * want;
    expect(Math.abs(withoutFirst - want) / tol).toBeGreaterThan(1);
    expect(Math.abs(withoutLast - want) / tol).toBeGreaterThan(1);
  });
});

describe('gradient norm: NaN and Inf are detectable', () => {
  it('a NaN gradient makes the norm and clip scale NaN and counts a skipped step', async () => {
    const ctx = await testGpu();
    const clean = makeGrads([100, 3000], 4, 0.1);
    const poisoned = Float32Array.from(clean[1]);
    poisoned[1234] = NaN;
    const g0 = Tensor.fromArray(ctx, [100], 'f32', clean[0], 'g0');
    const g1 = Tensor.fromArray(ctx, [3000], 'f32', poisoned, 'g1');
    const norm = Tensor.empty(ctx, [1], 'f32', 'norm');
    const scale = Tensor.empty(ctx, [1], 'f32', 'clip scale');
    const counter = Tensor.empty(ctx, [1], 'u32', 'non-finite steps');
    const dispatches = await prepareGradNorm(ctx, {
      grads: [g0, g1],
      norm,
      clipScale: scale,
      nonFiniteSteps: counter,
    });
    await runDispatches(ctx, dispatches);
    await runDispatches(ctx, dispatches);
    expect((await norm.download())[0]).toBeNaN();
    expect((await scale.download())[0]).toBeNaN();
    expect((await counter.download())[0]).toBe(2);
    // A clean step afterwards: finite norm, counter unchanged.
    g1.upload(clean[1]);
    await runDispatches(ctx, dispatches);
    const want = clipGradNormReference(clean, 1);
    expect(Math.abs((await norm.download())[0] - want.totalNorm)).toBeLessThanOrEqual(
      normRelativeTolerance([100, 3000]) * want.totalNorm,
    );
    expect((await counter.download())[0]).toBe(2);
    dispatches.forEach(releaseDispatch);
    for (const t of [g0, g1, norm, scale, counter]) t.destroy();
  });

  it('haltAfterNonFinite: after a counted step every clip scale is NaN until the counter is reset', async () => {
    const ctx = await testGpu();
    const clean = makeGrads([100, 3000], 5, 0.1);
    const poisoned = Float32Array.from(clean[1]);
    poisoned[7] = Infinity;
    const g0 = Tensor.fromArray(ctx, [100], 'f32', clean[0], 'g0');
    const g1 = Tensor.fromArray(ctx, [3000], 'f32', clean[1], 'g1');
    const norm = Tensor.empty(ctx, [1], 'f32', 'norm');
    const scale = Tensor.empty(ctx, [1], 'f32', 'clip scale');
    const counter = Tensor.empty(ctx, [1], 'u32', 'non-finite steps');
    const dispatches = await prepareGradNorm(
      ctx,
      { grads: [g0, g1], norm, clipScale: scale, nonFiniteSteps: counter },
      { haltAfterNonFinite: true },
    );
    const want = clipGradNormReference(clean, 1);
    const tol = normRelativeTolerance([100, 3000]) * want.totalNorm;
    // Clean: the usual clip scale (negative control for the halt).
    await runDispatches(ctx, dispatches);
    expect((await scale.download())[0]).toBeCloseTo(Math.min(1, 1 / (want.totalNorm + 1e-6)), 6);
    g1.upload(poisoned);
    await runDispatches(ctx, dispatches);
    expect((await scale.download())[0]).toBe(Infinity);
    // Clean again: the norm is finite and right, the scale NaN (halted), the counter unchanged.
    g1.upload(clean[1]);
    await runDispatches(ctx, dispatches);
    expect(Math.abs((await norm.download())[0] - want.totalNorm)).toBeLessThanOrEqual(tol);
    expect((await scale.download())[0]).toBeNaN();
    expect((await counter.download())[0]).toBe(1);
    counter.upload(new Uint32Array([0]));
    await runDispatches(ctx, dispatches);
    expect((await scale.download())[0]).toBeCloseTo(Math.min(1, 1 / (want.totalNorm + 1e-6)), 6);
    await expect(
      prepareGradNorm(ctx, { grads: [g0], norm, clipScale: scale }, { haltAfterNonFinite: true }),
    ).rejects.toThrow(/needs the nonFiniteSteps counter/);
    dispatches.forEach(releaseDispatch);
    for (const t of [g0, g1, norm, scale, counter]) t.destroy();
  });

  it('an Inf gradient gives an Inf norm and an Inf clip scale', async () => {
    const g = randomF32(500, 5);
    g[17] = -Infinity;
    const got = await runGradNorm([g]);
    expect(got.norm).toBe(Infinity);
    expect(got.scale).toBe(Infinity);
  });

  it('finite gradients whose squares overflow f32 (|g| = 1e20) also read as Inf', async () => {
    const got = await runGradNorm([Float32Array.of(1e20, 1)]);
    expect(got.norm).toBe(Infinity);
  });
});

describe('gradNorm wrapper and reference', () => {
  it('reference: grads (3) and (4) → norm 5, scale 1/(5 + 1e-6)', () => {
    const r = clipGradNormReference([[3], [4]], 1);
    expect(r.totalNorm).toBe(5);
    expect(r.clipScale).toBe(1 / (5 + 1e-6));
    expect(clipGradNormReference([[NaN]], 1).finite).toBe(false);
  });

  it('rejects no gradients, aliasing and a bad maxNorm', async () => {
    const ctx = await testGpu();
    const g = Tensor.empty(ctx, [4], 'f32', 'g');
    const a = Tensor.empty(ctx, [1], 'f32', 'a');
    await expect(prepareGradNorm(ctx, { grads: [], norm: a, clipScale: g })).rejects.toThrow(
      /no gradient/,
    );
    await expect(prepareGradNorm(ctx, { grads: [g], norm: a, clipScale: a })).rejects.toThrow(
      /norm must not be the same buffer as clipScale/,
    );
    await expect(prepareGradNorm(ctx, { grads: [g], norm: g, clipScale: a })).rejects.toThrow(
      /norm must not be the same buffer as grads\[0\]/,
    );
    const b = Tensor.empty(ctx, [1], 'f32', 'b');
    await expect(
      prepareGradNorm(ctx, { grads: [g], norm: a, clipScale: b }, { maxNorm: 0 }),
    ).rejects.toThrow(/maxNorm/);
    for (const t of [g, a, b]) t.destroy();
  });
});
