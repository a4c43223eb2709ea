import { describe, expect, it } from 'vitest';
import { runDispatches, runOnce, releaseDispatch } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import {
  preparePatchMseLoss,
  preparePatchMseLossBackward,
  patchMseShape,
} from '../src/kernels/patchMseLoss';
import { REDUCE_DEPTH_PER_PASS, reducePassLengths } from '../src/kernels/reduceSum';
import { checkGradient } from '../src/reference/gradcheck';
import { gammaF32 } from '../src/reference/matmul';
import {
  countedTargets,
  isCountedPosition,
  normalizedPatch,
  NORM_PIX_EPS,
  patchMseLossBackwardReference,
  patchMseLossReference,
  type PatchMseShape,
  type PixelTargets,
} from '../src/reference/patchMseLoss';
import { mulberry32, randomF32 } from '../src/reference/random';
import { testGpu } from './gpuContext';

const u = 2 ** -24;
const THREADS = 64; // invocations per position in patch_mse_loss.wgsl

/**
 * Image-like targets: each patch has its own offset in [−2, 2] and spread in [0.05, 2]
 * (so the mean subtraction and the per-patch variance both matter); patch 1 of sample 0
 * is constant (variance 0: t̂ = 0 up to rounding) when `constantPatch` is set.
 */
function makeTargets(s: PatchMseShape, seed: number, constantPatch = false): Float32Array {
  const next = mulberry32(seed);
  const t = new Float32Array(s.batch * s.positions * s.patchValues);
  for (let patch = 0; patch < s.batch * s.positions; patch++) {
    const offset = 4 * next() - 2;
    const spread = 0.05 + 1.95 * next();
    for (let j = 0; j < s.patchValues; j++)
      t[patch * s.patchValues + j] = offset + spread * (2 * next() - 1);
  }
  if (constantPatch && s.positions > 1) t.fill(0.7, s.patchValues, 2 * s.patchValues);
  return t;
}

interface Bounds {
  perPosition: Float64Array;
  grad: Float64Array;
  loss: number;
}

/**
 * Forward error bounds of the f32 kernel, value by value, from the exact (float64) values.
 * Model: + − × correctly rounded (≤ u), WGSL division ≤ 2.5 ulp (5u), inverseSqrt ≤ 2 ulp
 * (4u). Each invocation adds ⌈P/64⌉ values in sequence and the workgroup adds 64 partial
 * sums as a tree of depth 6, so each patch sum is a tree of depth D = ⌈P/64⌉ + 6 and errs
 * by ≤ γ_D·Σ|terms| (Higham §4.2). Propagated through mean → centred values → unbiased
 * variance → 1/sqrt(var + 1e-6) → t̂ → pred − t̂ → mean square; the loss adds the tree over
 * the B·K per-position values (depth 10 per reduce pass) and a division by N. Raw targets
 * skip the normalisation (mean 0 and rstd 1, exactly): only pred − t and the sums err.
 */
function errorBounds(
  pred: Float32Array,
  targets: Float32Array,
  prefix: ArrayLike<number>,
  s: PatchMseShape,
  kind: PixelTargets = 'normalized',
): Bounds {
  const raw = kind === 'raw';
  const { batch, positions: K, patchValues: P } = s;
  const N = countedTargets(prefix, K);
  const D = Math.ceil(P / THREADS) + 6;
  const perPosition = new Float64Array(batch * K);
  const grad = new Float64Array(batch * K * P);
  let sumE = 0;
  let sumErr = 0;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < K; i++) {
      if (!isCountedPosition(i, prefix[b], K)) continue; // the kernel writes exact zeros
      const row = b * K + i;
      const t = targets.subarray((row + 1) * P, (row + 2) * P);
      const q = pred.subarray(row * P, (row + 1) * P);
      let mean = 0;
      let absSum = 0;
      for (const v of t) {
        mean += v;
        absSum += Math.abs(v);
      }
      mean = raw ? 0 : mean / P;
      const eMean = raw ? 0 : (gammaF32(D) * absSum) / P + 5 * u * Math.abs(mean);
      const c = Array.from(t, (v) => v - mean);
      const ec = c.map((v) => (raw ? 0 : eMean + u * (Math.abs(v) + eMean)));
      let s2 = 0;
      let es2 = 0;
      for (let j = 0; j < P; j++) {
        s2 += c[j] * c[j];
        es2 += 2 * Math.abs(c[j]) * ec[j] + ec[j] * ec[j];
      }
      es2 += gammaF32(D + 1) * s2;
      const variance = s2 / (P - 1);
      const w = variance + NORM_PIX_EPS;
      const ew = es2 / (P - 1) + 5 * u * variance + u * w;
      const r = raw ? 1 : 1 / Math.sqrt(w);
      const relR = raw ? 0 : 0.5 * (ew / w) * (1 + ew / w) + 4 * u;
      let e = 0;
      let ee = 0;
      const ed: number[] = [];
      const d: number[] = [];
      for (let j = 0; j < P; j++) {
        const that = c[j] * r;
        const et = r * ec[j] * (1 + relR) + Math.abs(that) * (relR + u);
        d.push(q[j] - that);
        ed.push(et + u * (Math.abs(d[j]) + et));
        e += d[j] * d[j];
        ee += 2 * Math.abs(d[j]) * ed[j] + ed[j] * ed[j];
      }
      ee += gammaF32(D + 1) * e;
      e /= P;
      perPosition[row] = ee / P + 5 * u * e;
      sumE += e;
      sumErr += perPosition[row];
      const scale = 2 / (P * N);
      for (let j = 0; j < P; j++)
        grad[row * P + j] = scale * ed[j] + 7 * u * scale * Math.abs(d[j]);
    }
  }
  const depth = REDUCE_DEPTH_PER_PASS * reducePassLengths(batch * K).length;
  const loss = (sumErr + gammaF32(depth) * sumE) / N + (5 * u * sumE) / N;
  return { perPosition, grad, loss };
}

/** max |got − want| / (2·bound): a factor 2 over the first-order bound covers its neglected terms. */
function ratio(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (Number.isNaN(err)) return Infinity;
    worst = Math.max(worst, err / (2 * bound[i] + 1e-45));
  }
  return worst;
}

interface GpuRun {
  perPosition: Float32Array;
  loss: number;
  counted: number;
  fusedGrad: Float32Array;
  grad: Float32Array;
}

/** Forward with the fused gradient, and the separate backward, on the GPU. */
async function runLoss(
  pred: Float32Array,
  targets: Float32Array,
  prefix: readonly number[],
  s: PatchMseShape,
  gridLimit?: number,
  targetsKind?: PixelTargets,
): Promise<GpuRun> {
  const ctx = await testGpu();
  const shape = [s.batch, s.positions, s.patchValues];
  const predT = Tensor.fromArray(ctx, shape, 'f32', pred, 'pred');
  const targetsT = Tensor.fromArray(ctx, shape, 'f32', targets, 'targets');
  const prefixT = Tensor.fromArray(ctx, [s.batch], 'u32', prefix, 'prefix lengths');
  const perPosition = Tensor.fromArray(
    ctx,
    [s.batch, s.positions],
    'f32',
    new Float32Array(s.batch * s.positions).fill(NaN), // every value must be written
    'per-position',
  );
  const loss = Tensor.empty(ctx, [1], 'f32', 'loss');
  const counted = Tensor.empty(ctx, [1], 'f32', 'N');
  const fusedGrad = Tensor.fromArray(ctx, shape, 'f32', new Float32Array(pred.length).fill(NaN));
  const grad = Tensor.fromArray(ctx, shape, 'f32', new Float32Array(pred.length).fill(NaN));
  await runOnce(ctx, [
    ...(await preparePatchMseLoss(
      ctx,
      {
        pred: predT,
        targets: targetsT,
        prefixLengths: prefixT,
        perPosition,
        loss,
        gradPred: fusedGrad,
        countedTargets: counted,
      },
      { gridLimit, targets: targetsKind },
    )),
    ...(await preparePatchMseLossBackward(
      ctx,
      { pred: predT, targets: targetsT, prefixLengths: prefixT, gradPred: grad },
      { gridLimit, targets: targetsKind },
    )),
  ]);
  const out: GpuRun = {
    perPosition: await perPosition.download(),
    loss: (await loss.download())[0],
    counted: (await counted.download())[0],
    fusedGrad: await fusedGrad.download(),
    grad: await grad.download(),
  };
  for (const t of [predT, targetsT, prefixT, perPosition, loss, counted, fusedGrad, grad])
    t.destroy();
  return out;
}

/** Runs everything and returns the worst ratio over per-position, loss and both gradients. */
async function checkCase(
  s: PatchMseShape,
  prefix: readonly number[],
  seed: number,
  gridLimit?: number,
  kind: PixelTargets = 'normalized',
) {
  const n = s.batch * s.positions * s.patchValues;
  const pred = randomF32(n, seed, -2, 2);
  const targets = makeTargets(s, seed + 1, true);
  const got = await runLoss(pred, targets, prefix, s, gridLimit, kind);
  const want = patchMseLossReference(pred, targets, prefix, s, kind);
  const wantGrad = patchMseLossBackwardReference(pred, targets, prefix, s, kind);
  const bounds = errorBounds(pred, targets, prefix, s, kind);
  expect(got.counted).toBe(want.counted);
  return Math.max(
    ratio(got.perPosition, want.perPosition, bounds.perPosition),
    ratio([got.loss], [want.loss], [bounds.loss]),
    ratio(got.fusedGrad, wantGrad, bounds.grad),
    ratio(got.grad, wantGrad, bounds.grad),
  );
}

describe('patch MSE loss: forward and backward against float64', () => {
  for (const K of [2, 3, 17, 64]) {
    for (const P of [3, 48, 192]) {
      for (const B of [1, 3]) {
        const seed = 1000 * K + 10 * P + B;
        const next = mulberry32(seed);
        const random = () => 1 + Math.floor(next() * (K - 1));
        // B = 3: S = 1 (causal baseline), S = K − 1 (only the last target), and a random S.
        const prefix = B === 3 ? [1, K - 1, random()] : [random()];
        it(`K ${K}, P ${P}, B ${B}, S [${prefix.join(', ')}]`, async () => {
          expect(
            await checkCase({ batch: B, positions: K, patchValues: P }, prefix, seed),
          ).toBeLessThanOrEqual(1);
        });
      }
    }
  }

  it('AIM patch size: K 30, P 588 (14·14·3), B 2', async () => {
    expect(
      await checkCase({ batch: 2, positions: 30, patchValues: 588 }, [5, 29], 7),
    ).toBeLessThanOrEqual(1);
  });

  it('a folded 2-D grid (limit lowered to 5 workgroups per dimension), B 3, K 17', async () => {
    const s = { batch: 3, positions: 17, patchValues: 48 };
    expect(await checkCase(s, [2, 9, 16], 8, 5)).toBeLessThanOrEqual(1);
  });

  it('prefix lengths outside 1…K−1 are clamped: S = 0 counts like 1, S ≥ K counts nothing', async () => {
    const s = { batch: 3, positions: 5, patchValues: 12 };
    expect(countedTargets([0, 5, 9], 5)).toBe(4);
    expect(await checkCase(s, [0, 5, 9], 9)).toBeLessThanOrEqual(1);
  });
});

describe('patch MSE loss: counted / not-counted positions', () => {
  it('S = K − 1: only position K − 2 (predicting the last patch) counts', async () => {
    const s = { batch: 2, positions: 17, patchValues: 48 };
    const pred = randomF32(2 * 17 * 48, 20, -2, 2);
    const targets = makeTargets(s, 21);
    const got = await runLoss(pred, targets, [16, 16], s);
    expect(got.counted).toBe(2);
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < 17; i++) {
        const row = b * 17 + i;
        const gradRow = got.grad.subarray(row * 48, (row + 1) * 48);
        if (i === 15) {
          expect(got.perPosition[row]).toBeGreaterThan(0.1);
          expect(gradRow.some((g) => g !== 0)).toBe(true);
        } else {
          expect(got.perPosition[row]).toBe(0);
          expect(gradRow.every((g) => g === 0)).toBe(true);
        }
      }
    }
    expect(got.loss).toBeCloseTo((got.perPosition[15] + got.perPosition[17 + 15]) / 2, 6);
  });

  it('off-by-one variants of the reference are outside the tolerance of the GPU result', async () => {
    const s = { batch: 3, positions: 17, patchValues: 48 };
    const prefix = [1, 16, 7];
    const pred = randomF32(3 * 17 * 48, 30, -2, 2);
    const targets = makeTargets(s, 31);
    const got = await runLoss(pred, targets, prefix, s);
    const bounds = errorBounds(pred, targets, prefix, s);
    const want = patchMseLossReference(pred, targets, prefix, s);
    expect(ratio(got.perPosition, want.perPosition, bounds.perPosition)).toBeLessThanOrEqual(1);
    // Counting i ≥ S instead of i + 1 ≥ S is the reference with every prefix one longer.
    const countFromI = patchMseLossReference(
      pred,
      targets,
      prefix.map((v) => v + 1),
      s,
    );
    expect(ratio(got.perPosition, countFromI.perPosition, bounds.perPosition)).toBeGreaterThan(1);
    // Comparing position i with target i instead of i + 1: shift the targets by one patch.
    const shifted = new Float32Array(targets.length);
    shifted.set(targets.subarray(0, targets.length - 48), 48);
    const sameIndex = patchMseLossReference(pred, shifted, prefix, s);
    expect(ratio(got.perPosition, sameIndex.perPosition, bounds.perPosition)).toBeGreaterThan(1);
    // The biased variance (÷P instead of ÷(P − 1)) scales t̂ by about sqrt(48/47).
    const biased = Float64Array.from(want.perPosition, (e, row) => {
      if (e === 0) return 0;
      const t = targets.subarray((row + 1) * 48, (row + 2) * 48);
      const mean = t.reduce((a, v) => a + v, 0) / 48;
      const rstd = 1 / Math.sqrt(t.reduce((a, v) => a + (v - mean) ** 2, 0) / 48 + NORM_PIX_EPS);
      return t.reduce((a, v, j) => a + (pred[row * 48 + j] - (v - mean) * rstd) ** 2, 0) / 48;
    });
    expect(ratio(got.perPosition, biased, bounds.perPosition)).toBeGreaterThan(1);
  });

  it('prepared dispatches follow new prefix lengths uploaded between runs (N counted on the GPU)', async () => {
    const ctx = await testGpu();
    const s = { batch: 3, positions: 9, patchValues: 12 };
    const shape = [3, 9, 12];
    const pred = randomF32(3 * 9 * 12, 40, -2, 2);
    const targets = makeTargets(s, 41);
    const predT = Tensor.fromArray(ctx, shape, 'f32', pred);
    const targetsT = Tensor.fromArray(ctx, shape, 'f32', targets);
    const prefixT = Tensor.fromArray(ctx, [3], 'u32', [1, 1, 1]);
    const perPosition = Tensor.empty(ctx, [3, 9], 'f32');
    const loss = Tensor.empty(ctx, [1], 'f32');
    const dispatches = await preparePatchMseLoss(ctx, {
      pred: predT,
      targets: targetsT,
      prefixLengths: prefixT,
      perPosition,
      loss,
    });
    for (const prefix of [
      [1, 1, 1],
      [8, 3, 5],
    ]) {
      prefixT.upload(prefix);
      await runDispatches(ctx, dispatches);
      const want = patchMseLossReference(pred, targets, prefix, s);
      const bound = errorBounds(pred, targets, prefix, s).loss;
      expect(ratio(await loss.download(), [want.loss], [bound])).toBeLessThanOrEqual(1);
    }
    dispatches.forEach(releaseDispatch);
    for (const t of [predT, targetsT, prefixT, perPosition, loss]) t.destroy();
  });
});

describe('patch MSE loss with raw targets (norm_pix_loss off, Table 3a)', () => {
  // P = 1 is allowed here (nothing to normalise); K = 2 has one target per sample.
  for (const [K, P, B] of [
    [2, 1, 1],
    [2, 3, 3],
    [17, 1, 3],
    [17, 48, 1],
    [5, 65, 3],
    [30, 588, 2],
  ]) {
    const seed = 5000 + 100 * K + P + B;
    const next = mulberry32(seed);
    const prefix = Array.from({ length: B }, (_, b) =>
      b === 0 ? 1 : 1 + Math.floor(next() * (K - 1)),
    );
    it(`K ${K}, P ${P}, B ${B}, S [${prefix.join(', ')}]`, async () => {
      const s = { batch: B, positions: K, patchValues: P };
      expect(await checkCase(s, prefix, seed, undefined, 'raw')).toBeLessThanOrEqual(1);
    });
  }

  it('a folded 2-D grid (limit 5 workgroups per dimension)', async () => {
    const s = { batch: 3, positions: 17, patchValues: 48 };
    expect(await checkCase(s, [2, 9, 16], 81, 5, 'raw')).toBeLessThanOrEqual(1);
  });

  it('compares with the patches as they are: the plain MSE, not the normalised one', async () => {
    const s = { batch: 2, positions: 5, patchValues: 12 };
    const prefix = [1, 3];
    const pred = randomF32(2 * 5 * 12, 60, -2, 2);
    const targets = makeTargets(s, 61);
    const got = await runLoss(pred, targets, prefix, s, undefined, 'raw');
    const bounds = errorBounds(pred, targets, prefix, s, 'raw');
    // By hand: position i against patch i + 1, unnormalised.
    const byHand = new Float64Array(2 * 5);
    for (let b = 0; b < 2; b++)
      for (let i = prefix[b] - 1; i < 4; i++) {
        const row = b * 5 + i;
        let e = 0;
        for (let j = 0; j < 12; j++) e += (pred[row * 12 + j] - targets[(row + 1) * 12 + j]) ** 2;
        byHand[row] = e / 12;
      }
    expect(ratio(got.perPosition, byHand, bounds.perPosition)).toBeLessThanOrEqual(1);
    const normalised = patchMseLossReference(pred, targets, prefix, s, 'normalized');
    expect(ratio(got.perPosition, normalised.perPosition, bounds.perPosition)).toBeGreaterThan(1);
  });

  it('reference gradient: central differences, and raw − normalised = 2(t̂ − t)/(P·N)', () => {
    const s = { batch: 2, positions: 6, patchValues: 12 };
    const prefix = [2, 4];
    const pred = Float64Array.from(randomF32(2 * 6 * 12, 70, -2, 2));
    const targets = makeTargets(s, 71);
    const raw = patchMseLossBackwardReference(pred, targets, prefix, s, 'raw');
    const result = checkGradient(
      (x) => patchMseLossReference(x, targets, prefix, s, 'raw').loss,
      pred,
      raw,
      { samples: pred.length },
    );
    expect(result.checked).toBe(pred.length);
    expect(result.worstRelativeError).toBeLessThan(1e-6);
    const normalised = patchMseLossBackwardReference(pred, targets, prefix, s);
    const N = countedTargets(prefix, 6);
    let changed = 0;
    for (let row = 0; row < 2 * 6; row++) {
      const counted = isCountedPosition(row % 6, prefix[Math.floor(row / 6)], 6);
      const that = normalizedPatch(targets, (row + 1) * 12, 12);
      for (let j = 0; j < 12; j++) {
        const i = row * 12 + j;
        const shift = counted ? (2 * (that[j] - targets[(row + 1) * 12 + j])) / (12 * N) : 0;
        expect(raw[i] - normalised[i]).toBeCloseTo(shift, 12);
        if (shift !== 0) changed++;
      }
    }
    expect(changed).toBe(N * 12);
  });
});

describe('patch MSE loss: reference backward', () => {
  it('matches central differences of the reference loss (float64)', () => {
    const s = { batch: 2, positions: 6, patchValues: 12 };
    const prefix = [2, 4];
    const pred = Float64Array.from(randomF32(2 * 6 * 12, 50, -2, 2));
    const targets = makeTargets(s, 51);
    const grad = patchMseLossBackwardReference(pred, targets, prefix, s);
    const result = checkGradient(
      (x) => patchMseLossReference(x, targets, prefix, s).loss,
      pred,
      grad,
      { samples: pred.length },
    );
    expect(result.checked).toBe(pred.length);
    expect(result.worstRelativeError).toBeLessThan(1e-6);
  });
});

describe('patchMseLoss wrapper', () => {
  it('rejects mismatched shapes and too-short patches or sequences', async () => {
    const ctx = await testGpu();
    const pred = Tensor.empty(ctx, [2, 5, 12], 'f32');
    const targets = Tensor.empty(ctx, [2, 5, 13], 'f32');
    const prefix = Tensor.empty(ctx, [2], 'u32');
    const prefix3 = Tensor.empty(ctx, [3], 'u32');
    const oneValue = Tensor.empty(ctx, [2, 5, 1], 'f32');
    const oneToken = Tensor.empty(ctx, [2, 1, 12], 'f32');
    expect(() => patchMseShape(pred, targets, prefix)).toThrow(
      /targets is \[2,5,13\], expected \[2,5,12\]/,
    );
    expect(() => patchMseShape(pred, pred, prefix3)).toThrow(
      /prefixLengths is \[3\], expected \[2\]/,
    );
    expect(() => patchMseShape(oneValue, oneValue, prefix)).toThrow(/P = 1/);
    expect(patchMseShape(oneValue, oneValue, prefix, undefined, 'raw').patchValues).toBe(1);
    await expect(
      preparePatchMseLoss(
        ctx,
        {
          pred,
          targets: pred,
          prefixLengths: prefix,
          perPosition: Tensor.empty(ctx, [2, 5], 'f32'),
        },
        { targets: 'tokens' as PixelTargets },
      ),
    ).rejects.toThrow(/targets "tokens", expected normalized or raw/);
    expect(() => patchMseShape(oneToken, oneToken, prefix)).toThrow(/K = 1/);
    const perPosition = Tensor.empty(ctx, [2, 4], 'f32');
    await expect(
      preparePatchMseLoss(ctx, { pred, targets: pred, prefixLengths: prefix, perPosition }),
    ).rejects.toThrow(/perPosition is \[2,4\]/);
    for (const t of [pred, targets, prefix, prefix3, oneValue, oneToken, perPosition]) t.destroy();
  });
});
