import { describe, expect, it } from 'vitest';
import { releaseDispatch, runDispatches, type PreparedDispatch } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import {
  createAdamWState,
  createAdamWStep,
  prepareAdamW,
  writeAdamWStep,
  type AdamWParam,
  type AdamWStep,
} from '../src/kernels/adamw';
import { prepareGradNorm } from '../src/kernels/gradNorm';
import { adamWStepReference, type AdamWState } from '../src/reference/adamw';
import { clipGradNormReference } from '../src/reference/gradNorm';
import {
  makeGradient,
  makeParams,
  stepBound,
  u,
  worstBoundRatio,
  type Bounds,
} from './adamwBounds';
import { testGpu } from './gpuContext';

const f64 = (x: ArrayLike<number>) => Float64Array.from(x);

interface GpuParam {
  param: Tensor<'f32'>;
  grad: Tensor<'f32'>;
  expAvg: Tensor<'f32'>;
  expAvgSq: Tensor<'f32'>;
}

async function upload(ctx: Awaited<ReturnType<typeof testGpu>>, p0: Float32Array) {
  const param = Tensor.fromArray(ctx, [p0.length], 'f32', p0, 'param');
  const grad = Tensor.empty(ctx, [p0.length], 'f32', 'grad');
  return { param, grad, ...createAdamWState(ctx, param) };
}

async function download(t: GpuParam) {
  return {
    param: await t.param.download(),
    expAvg: await t.expAvg.download(),
    expAvgSq: await t.expAvgSq.download(),
  };
}

function destroyAll(t: GpuParam) {
  for (const x of [t.param, t.grad, t.expAvg, t.expAvgSq]) x.destroy();
}

/** Frees an optimizer's dispatches (their range uniforms) and its step uniform. */
function destroyOptimizer(dispatches: readonly PreparedDispatch[], step: AdamWStep) {
  dispatches.forEach(releaseDispatch);
  step.buffer.destroy();
}

/**
 * Runs `steps` AdamW steps on the GPU, re-using one set of dispatches (setStep rewrites the
 * step uniform), against the float64 reference, checking p, m and v after every step.
 */
async function checkSteps(
  n: number,
  weightDecay: number,
  lrs: readonly number[],
  opts: { clipScale?: number; gridLimit?: number } = {},
): Promise<number> {
  const ctx = await testGpu();
  const p0 = makeParams(n, n + 1);
  const t = await upload(ctx, p0);
  const clip =
    opts.clipScale === undefined
      ? undefined
      : Tensor.fromArray(ctx, [1], 'f32', [opts.clipScale], 'clip scale');
  const adamStep = createAdamWStep(ctx);
  const dispatches = await prepareAdamW(
    ctx,
    { params: [{ ...t, weightDecay }], step: adamStep, clipScale: clip },
    { gridLimit: opts.gridLimit },
  );
  const clipScale = opts.clipScale === undefined ? 1 : Math.fround(opts.clipScale);
  let state: AdamWState = {
    param: f64(p0),
    expAvg: new Float64Array(n),
    expAvgSq: new Float64Array(n),
  };
  let bounds: Bounds = {
    param: new Float64Array(n),
    expAvg: new Float64Array(n),
    expAvgSq: new Float64Array(n),
  };
  let worst = 0;
  for (let k = 0; k < lrs.length; k++) {
    const step = k + 1;
    const g = makeGradient(n, 100 * n + k);
    t.grad.upload(g);
    writeAdamWStep(ctx, adamStep, step, lrs[k]);
    await runDispatches(ctx, dispatches);
    const cfg = { step, lr: lrs[k], weightDecay, clipScale };
    const next = adamWStepReference(state, g, cfg);
    bounds = stepBound(state, next, bounds, g, cfg);
    state = next;
    worst = Math.max(worst, worstBoundRatio(await download(t), state, bounds));
  }
  destroyOptimizer(dispatches, adamStep);
  destroyAll(t);
  clip?.destroy();
  return worst;
}

/** A warm-up-then-decay learning rate, larger than AIM's so that decay and updates show. */
const LRS = [0.02, 0.05, 0.1, 0.08, 0.05, 0.03];

describe('AdamW: hand-worked first step', () => {
  it('p = [1, −2, 0.5, 3], g = [0.5, −2, 0, 1e-9], lr 0.1, wd 0.05', async () => {
    // Step 1: m = 0.1·g, v = 0.05·g², bias corrections 0.1 and 0.05, so m̂ = g, v̂ = g² and
    // the update is lr·g/(|g| + 1e-8). Decay first: p·(1 − 0.1·0.05) = 0.995·p.
    //   0.995 − 0.1·0.5/0.50000001    = 0.895000002
    //  −1.99  + 0.1·2/2.00000001      = −1.8900000005
    //   0.4975 − 0                    = 0.4975
    //   2.985 − 0.1·1e-9/1.1e-8       = 2.985 − 0.00909090… = 2.97590909…
    const ctx = await testGpu();
    const t = await upload(ctx, Float32Array.of(1, -2, 0.5, 3));
    t.grad.upload(Float32Array.of(0.5, -2, 0, 1e-9));
    const step = createAdamWStep(ctx);
    const dispatches = await prepareAdamW(ctx, { params: [{ ...t, weightDecay: 0.05 }], step });
    writeAdamWStep(ctx, step, 1, 0.1);
    await runDispatches(ctx, dispatches);
    const got = await download(t);
    const want = [0.895000002, -1.8900000005, 0.4975, 2.985 - 0.1 / 11];
    got.param.forEach((p, i) => expect(Math.abs(p - want[i])).toBeLessThan(4e-7));
    expect(Array.from(got.expAvg)).toEqual([0.05, -0.2, 0, Math.fround(1e-10)].map(Math.fround));
    got.expAvgSq.forEach((v, i) =>
      expect(Math.abs(v - [0.0125, 0.2, 0, 5e-20][i])).toBeLessThanOrEqual(2 * u * v),
    );
    destroyOptimizer(dispatches, step);
    destroyAll(t);
  });
});

describe('AdamW: several steps against float64 torch.optim.AdamW', () => {
  it('with decay (wd 0.05), 257 values, 6 steps, lr changing every step', async () => {
    expect(await checkSteps(257, 0.05, LRS)).toBeLessThanOrEqual(1);
  });
  it('without decay (wd 0: biases, norms, positions), 255 values', async () => {
    expect(await checkSteps(255, 0, LRS)).toBeLessThanOrEqual(1);
  });
  it('one value', async () => {
    expect(await checkSteps(1, 0.05, LRS.slice(0, 3))).toBeLessThanOrEqual(1);
  });
  it('clip scale 0.3 < 1 read from a GPU buffer multiplies the gradients', async () => {
    expect(await checkSteps(300, 0.05, LRS, { clipScale: 0.3 })).toBeLessThanOrEqual(1);
  });
  it('a folded 2-D grid (limit lowered to 2 workgroups per dimension), 1000 values', async () => {
    expect(await checkSteps(1000, 0.05, LRS.slice(0, 2), { gridLimit: 2 })).toBeLessThanOrEqual(1);
  });
});

describe('AdamW: ranges, clipping pipeline and skipped steps', () => {
  it('a flat buffer with a decayed range, an undecayed range and an untouched tail', async () => {
    const ctx = await testGpu();
    const n = 260;
    const p0 = makeParams(n, 5);
    const g = makeGradient(n, 6);
    const t = await upload(ctx, p0);
    t.grad.upload(g);
    const step = createAdamWStep(ctx);
    const dispatches = await prepareAdamW(ctx, {
      params: [
        { ...t, weightDecay: 0.05, offset: 0, length: 100 },
        { ...t, weightDecay: 0, offset: 100, length: 150 },
      ],
      step,
    });
    writeAdamWStep(ctx, step, 1, 0.1);
    await runDispatches(ctx, dispatches);
    const got = await download(t);
    const zero = () => new Float64Array(n);
    const start: AdamWState = { param: f64(p0), expAvg: zero(), expAvgSq: zero() };
    const decayed = adamWStepReference(start, g, { step: 1, lr: 0.1, weightDecay: 0.05 });
    const plain = adamWStepReference(start, g, { step: 1, lr: 0.1, weightDecay: 0 });
    const want = {
      param: f64(p0),
      expAvg: zero(),
      expAvgSq: zero(),
    };
    for (const key of ['param', 'expAvg', 'expAvgSq'] as const) {
      want[key].set(decayed[key].subarray(0, 100), 0);
      want[key].set(plain[key].subarray(100, 250), 100);
    }
    const zeros = { param: zero(), expAvg: zero(), expAvgSq: zero() };
    const bD = stepBound(start, decayed, zeros, g, { step: 1, lr: 0.1, weightDecay: 0.05 });
    const bP = stepBound(start, plain, zeros, g, { step: 1, lr: 0.1, weightDecay: 0 });
    const bounds = { param: zero(), expAvg: zero(), expAvgSq: zero() };
    for (const key of ['param', 'expAvg', 'expAvgSq'] as const) {
      bounds[key].set(bD[key].subarray(0, 100), 0);
      bounds[key].set(bP[key].subarray(100, 250), 100);
    }
    expect(worstBoundRatio(got, want, bounds)).toBeLessThanOrEqual(1);
    // The tail [250, 260) belongs to no range: exactly as uploaded.
    expect(Array.from(got.param.subarray(250))).toEqual(Array.from(p0.subarray(250)));
    destroyOptimizer(dispatches, step);
    destroyAll(t);
  });

  it('grad norm → AdamW in one submission: clipping from the GPU-computed norm', async () => {
    const ctx = await testGpu();
    const sizes = [333, 7];
    const p0 = sizes.map((n, i) => makeParams(n, 40 + i));
    const g = sizes.map((n, i) => makeGradient(n, 50 + i).map((x) => 3 * x));
    const ts = await Promise.all(p0.map((p) => upload(ctx, p)));
    ts.forEach((t, i) => t.grad.upload(g[i]));
    const norm = Tensor.empty(ctx, [1], 'f32', 'norm');
    const clip = Tensor.empty(ctx, [1], 'f32', 'clip scale');
    const normDispatches = await prepareGradNorm(ctx, {
      grads: ts.map((t) => t.grad),
      norm,
      clipScale: clip,
    });
    const step = createAdamWStep(ctx);
    const dispatches = await prepareAdamW(ctx, {
      params: ts.map((t, i) => ({ ...t, weightDecay: i === 0 ? 0.05 : 0 })),
      step,
      clipScale: clip,
    });
    writeAdamWStep(ctx, step, 1, 0.05);
    await runDispatches(ctx, [...normDispatches, ...dispatches]);
    const ref = clipGradNormReference(g, 1);
    expect(ref.clipScale).toBeLessThan(0.2);
    // The GPU scale is within ~2e-6 relative of float64 (gradNorm.test.ts derives it).
    const clipError = 4e-6 * ref.clipScale;
    for (let i = 0; i < sizes.length; i++) {
      const zero = () => new Float64Array(sizes[i]);
      const start = { param: f64(p0[i]), expAvg: zero(), expAvgSq: zero() };
      const cfg = { step: 1, lr: 0.05, weightDecay: i === 0 ? 0.05 : 0, clipScale: ref.clipScale };
      const want = adamWStepReference(start, g[i], cfg);
      const zeros = { param: zero(), expAvg: zero(), expAvgSq: zero() };
      const bounds = stepBound(start, want, zeros, g[i], { ...cfg, clipError });
      expect(worstBoundRatio(await download(ts[i]), want, bounds)).toBeLessThanOrEqual(1);
    }
    normDispatches.forEach(releaseDispatch);
    destroyOptimizer(dispatches, step);
    ts.forEach(destroyAll);
    norm.destroy();
    clip.destroy();
  });

  it('a NaN gradient skips the whole step: p, m and v keep their values', async () => {
    const ctx = await testGpu();
    const n = 50;
    const p0 = makeParams(n, 60);
    const t = await upload(ctx, p0);
    const g = makeGradient(n, 61);
    g[10] = NaN;
    t.grad.upload(g);
    const norm = Tensor.empty(ctx, [1], 'f32', 'norm');
    const clip = Tensor.empty(ctx, [1], 'f32', 'clip scale');
    const normDispatches = await prepareGradNorm(ctx, {
      grads: [t.grad],
      norm,
      clipScale: clip,
    });
    const step = createAdamWStep(ctx);
    const dispatches = await prepareAdamW(ctx, {
      params: [{ ...t, weightDecay: 0.05 }],
      step,
      clipScale: clip,
    });
    writeAdamWStep(ctx, step, 1, 0.1);
    await runDispatches(ctx, [...normDispatches, ...dispatches]);
    const got = await download(t);
    expect(Array.from(got.param)).toEqual(Array.from(p0));
    expect(got.expAvg.every((x) => x === 0) && got.expAvgSq.every((x) => x === 0)).toBe(true);
    normDispatches.forEach(releaseDispatch);
    destroyOptimizer(dispatches, step);
    destroyAll(t);
    norm.destroy();
    clip.destroy();
  });
});

describe('AdamW: the checks can fail', () => {
  /** One reference step from zero moments, compared with a variant under the bound. */
  function variantRatio(variant: (s: AdamWState, g: Float32Array) => AdamWState): number {
    const n = 200;
    const p0 = makeParams(n, 70);
    const g = makeGradient(n, 71);
    const zero = () => new Float64Array(n);
    const start = { param: f64(p0), expAvg: zero(), expAvgSq: zero() };
    const cfg = { step: 1, lr: 0.1, weightDecay: 0.05 };
    const want = adamWStepReference(start, g, cfg);
    const zeros = { param: zero(), expAvg: zero(), expAvgSq: zero() };
    const bounds = stepBound(start, want, zeros, g, cfg);
    const wrong = variant(start, g);
    const asF32 = (s: AdamWState) => ({
      param: Float32Array.from(s.param),
      expAvg: Float32Array.from(s.expAvg),
      expAvgSq: Float32Array.from(s.expAvgSq),
    });
    return worstBoundRatio(asF32(wrong), want, bounds);
  }

  it('decay applied after the Adam update instead of before it is caught', () => {
    const ratio = variantRatio((start, g) => {
      const s = adamWStepReference(start, g, { step: 1, lr: 0.1, weightDecay: 0 });
      return { ...s, param: s.param.map((p) => p * (1 - 0.1 * 0.05)) };
    });
    expect(ratio).toBeGreaterThan(1);
  });

  it('eps inside the square root, or no decay, is caught', () => {
    const noDecay = variantRatio((start, g) =>
      adamWStepReference(start, g, { step: 1, lr: 0.1, weightDecay: 0 }),
    );
    expect(noDecay).toBeGreaterThan(1);
    const epsInside = variantRatio((start, g) => {
      const s = adamWStepReference(start, g, { step: 1, lr: 0.1, weightDecay: 0.05 });
      // update = lr·m̂ / sqrt(v̂ + eps) instead of lr·m̂ / (sqrt(v̂) + eps)
      const param = start.param.map((p, i) => {
        const mHat = s.expAvg[i] / 0.1;
        const vHat = s.expAvgSq[i] / 0.05;
        return p * (1 - 0.005) - (0.1 * mHat) / Math.sqrt(vHat + 1e-8);
      });
      return { ...s, param };
    });
    expect(epsInside).toBeGreaterThan(1);
  });
});

describe('AdamW wrapper', () => {
  it('rejects overlapping ranges, mismatched sizes and a bad step', async () => {
    const ctx = await testGpu();
    const t = await upload(ctx, new Float32Array(10));
    const base: AdamWParam = { ...t, weightDecay: 0 };
    const step = createAdamWStep(ctx);
    await expect(
      prepareAdamW(ctx, {
        params: [
          { ...base, offset: 0, length: 6 },
          { ...base, offset: 5, length: 5 },
        ],
        step,
      }),
    ).rejects.toThrow(/overlap/);
    const short = Tensor.empty(ctx, [9], 'f32', 'short');
    await expect(prepareAdamW(ctx, { params: [{ ...base, grad: short }], step })).rejects.toThrow(
      /grad is \[9\] \(9 values\), expected 10 values like param/,
    );
    await expect(
      prepareAdamW(ctx, { params: [{ ...base, expAvg: t.param }], step }),
    ).rejects.toThrow(/param must not be the same buffer as expAvg/);
    await expect(
      prepareAdamW(ctx, { params: [{ ...base, offset: 4, length: 7 }], step }),
    ).rejects.toThrow(/exceeds/);
    const dispatches = await prepareAdamW(ctx, { params: [base], step });
    expect(() => writeAdamWStep(ctx, step, 0, 0.1)).toThrow(/step must be/);
    expect(() => writeAdamWStep(ctx, step, 1, NaN)).toThrow(/lr must be/);
    destroyOptimizer(dispatches, step);
    short.destroy();
    destroyAll(t);
  });
});
