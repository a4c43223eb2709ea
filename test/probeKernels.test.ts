import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import {
  probeAttentionPoolBackward,
  probeAttentionPoolForward,
  type ProbePoolShape,
} from '../src/kernels/probeAttentionPool';
import {
  probeBatchNormApply,
  probeBatchNormStats,
  probeMeanPool,
  type ProbeBatchNormShape,
} from '../src/kernels/probeBatchNorm';
import { probeCrossEntropy } from '../src/kernels/probeCrossEntropy';
import { gammaF32, F32_UNIT_ROUNDOFF as U } from '../src/reference/matmul';
import {
  attentionPoolBackwardReference,
  attentionPoolForwardReference,
  batchNormApplyReference,
  batchNormRunningUpdateReference,
  batchNormStatsReference,
  crossEntropyReference,
  meanPoolReference,
} from '../src/reference/probe';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

/*
 * Tolerances: first-order f32 rounding bounds (u = 2⁻²⁴, γ_n = nu/(1 − nu)) of each kernel's
 * own arithmetic, derived below per output and doubled for second-order terms; every kernel
 * is fed f32 inputs and compared with the float64 reference on the same f32 values, so only
 * its own rounding counts. The bounds are ~1e-6 relative; the "rejects" tests show that a
 * wrong variant (biased running variance, a token dropped, a label off by one) errs by far
 * more.
 */

const upload = async (data: ArrayLike<number>, shape: number[]) =>
  Tensor.fromArray(await testGpu(), shape, 'f32', Array.from(data), 'input');
const uploadU32 = async (data: ArrayLike<number>, shape: number[]) =>
  Tensor.fromArray(await testGpu(), shape, 'u32', Array.from(data), 'input');

/** Rows of sample index[b] of a bank [S, N, D], as the batch [B, N, D]. */
function gathered(bank: Float32Array, index: number[], s: ProbeBatchNormShape): Float32Array {
  const per = s.tokens * s.dim;
  const out = new Float32Array(index.length * per);
  index.forEach((i, b) => out.set(bank.subarray(i * per, (i + 1) * per), b * per));
  return out;
}

interface BnCase {
  name: string;
  shape: ProbeBatchNormShape;
  /** Bank samples to gather (none: x is the batch). */
  index?: number[];
  bankSize?: number;
}

const bnCases: BnCase[] = [
  { name: 'B=1 N=2 D=1', shape: { batch: 1, tokens: 2, dim: 1 } },
  { name: 'B=3 N=17 D=70 (D past one 64-channel tile)', shape: { batch: 3, tokens: 17, dim: 70 } },
  { name: 'B=5 N=1 D=8 (pooled, linear probe)', shape: { batch: 5, tokens: 1, dim: 8 } },
  {
    name: 'B=4 N=9 D=12 gathered from a bank of 7, a repeat',
    shape: { batch: 4, tokens: 9, dim: 12 },
    index: [6, 0, 3, 3],
    bankSize: 7,
  },
  { name: 'B=2 N=200 D=3 (long columns)', shape: { batch: 2, tokens: 200, dim: 3 } },
];

async function runBn(c: BnCase, seed: number) {
  const s = c.shape;
  const rows = s.batch * s.tokens;
  const samples = c.bankSize ?? s.batch;
  const bank = randomF32(samples * s.tokens * s.dim, seed, -1, 3);
  const x = c.index ? gathered(bank, c.index, s) : bank;
  const runningIn = [
    ...randomF32(s.dim, seed + 1, -0.5, 0.5),
    ...randomF32(s.dim, seed + 2, 0.5, 2),
  ];
  const ctx = await testGpu();
  const xT = await upload(bank, [samples, s.tokens, s.dim]);
  const index = c.index ? await uploadU32(c.index, [s.batch]) : undefined;
  const running = await upload(runningIn, [2, s.dim]);
  const stats = await probeBatchNormStats(ctx, { x: xT, index, running }, s);
  const gotStats = await stats.download();
  const gotRunning = await running.download();
  const y = await probeBatchNormApply(ctx, { x: xT, index, stats }, s);
  const gotY = await y.download();
  for (const t of [xT, index, running, stats, y]) t?.destroy();

  const want = batchNormStatsReference(x, rows, s.dim);
  const wantRunning = batchNormRunningUpdateReference(
    runningIn.slice(0, s.dim),
    runningIn.slice(s.dim),
    want,
    rows,
  );
  // Bounds: each column sum has depth d = ⌈R/4⌉ + 4 (4 row lanes, then their sum).
  const depth = Math.ceil(rows / 4) + 4;
  const bMean: number[] = [];
  const bVar: number[] = [];
  for (let c = 0; c < s.dim; c++) {
    let abs = 0;
    for (let r = 0; r < rows; r++) abs += Math.abs(x[r * s.dim + c]);
    bMean.push(gammaF32(depth) * (abs / rows) + U * Math.abs(want.mean[c]));
    // Σ(x − μ − δ)² = Σ(x − μ)² + Rδ² (the deviations sum to 0): δμ enters squared.
    bVar.push(gammaF32(depth + 3) * want.variance[c] + bMean[c] ** 2);
  }
  const bInv = (c: number) =>
    2 * want.invStd[c] * (bVar[c] / (2 * (want.variance[c] + 1e-6)) + 4 * U);
  const statsWant = [...want.mean, ...want.invStd];
  const statsRatio = worstRatio(gotStats, statsWant, (i) =>
    i < s.dim ? 2 * bMean[i] : bInv(i - s.dim),
  );
  const m = 0.1;
  const runningWant = [...wantRunning.runningMean, ...wantRunning.runningVar];
  const runningRatio = worstRatio(gotRunning, runningWant, (i) =>
    i < s.dim
      ? 2 * (m * bMean[i] + 3 * U * Math.abs(runningWant[i]))
      : 2 * ((m * bVar[i - s.dim] * rows) / (rows - 1) + 4 * U * runningWant[i]),
  );
  // The apply kernel on the GPU's own (f32) statistics: (x − μ)·s rounds twice.
  const yWant = batchNormApplyReference(
    x,
    rows,
    gotStats.subarray(0, s.dim),
    gotStats.subarray(s.dim),
  );
  const yRatio = worstRatio(gotY, yWant, (i) => 3 * U * Math.abs(yWant[i]) + 1e-30);
  return { statsRatio, runningRatio, yRatio, gotRunning, runningIn, want, rows };
}

describe('probe BatchNorm (batch statistics, running update, apply) against float64', () => {
  bnCases.forEach((c, n) => {
    it(c.name, async () => {
      const r = await runBn(c, 300 + n);
      expect(r.statsRatio).toBeLessThanOrEqual(1);
      expect(r.runningRatio).toBeLessThanOrEqual(1);
      expect(r.yRatio).toBeLessThanOrEqual(1);
    });
  });

  it('the tolerance rejects a biased running variance', async () => {
    const c = bnCases[1];
    const r = await runBn(c, 301);
    const s = c.shape;
    const biased = Array.from(
      { length: s.dim },
      (_, i) => 0.9 * r.runningIn[s.dim + i] + 0.1 * r.want.variance[i],
    );
    const got = r.gotRunning.subarray(s.dim);
    const worst = Math.max(...biased.map((b, i) => Math.abs(b - got[i]) / (1e-5 * Math.abs(b))));
    expect(worst).toBeGreaterThan(10);
  });

  it('eval mode normalises with the running statistics (eps 1e-6 inside the root)', async () => {
    const ctx = await testGpu();
    const s = { batch: 2, tokens: 3, dim: 5 };
    const x = randomF32(30, 9, -2, 2);
    const mean = randomF32(5, 10);
    const variance = randomF32(5, 11, 1e-7, 2);
    const xT = await upload(x, [2, 3, 5]);
    const stats = await upload([...mean, ...variance], [2, 5]);
    const y = await probeBatchNormApply(ctx, { x: xT, stats }, s, { running: true });
    const got = await y.download();
    const invStd = Array.from(variance, (v) => 1 / Math.sqrt(v + 1e-6));
    const want = batchNormApplyReference(x, 6, mean, invStd);
    // (x − μ) and the product round once each; var + eps once; inverseSqrt 2 ULP.
    expect(worstRatio(got, want, (i) => 2 * 6 * U * Math.abs(want[i]) + 1e-30)).toBeLessThanOrEqual(
      1,
    );
    for (const t of [xT, stats, y]) t.destroy();
  });

  it('refuses a running update on one value per channel, and a bad index list', async () => {
    const ctx = await testGpu();
    const x = await upload([1, 2], [1, 1, 2]);
    const running = await upload([0, 0, 1, 1], [2, 2]);
    await expect(
      probeBatchNormStats(ctx, { x, running }, { batch: 1, tokens: 1, dim: 2 }),
    ).rejects.toThrow(/more than one value per channel/);
    const index = await uploadU32([0, 0, 0], [3]);
    await expect(
      probeBatchNormStats(ctx, { x, index }, { batch: 2, tokens: 1, dim: 2 }),
    ).rejects.toThrow(/index is \[3\], expected \[2\]/);
    for (const t of [x, running, index]) t.destroy();
  });
});

describe('probe mean pool against float64', () => {
  for (const s of [
    { batch: 1, tokens: 1, dim: 4 },
    { batch: 3, tokens: 17, dim: 70 },
    { batch: 2, tokens: 300, dim: 5 },
  ]) {
    it(`B=${s.batch} N=${s.tokens} D=${s.dim}`, async () => {
      const ctx = await testGpu();
      const data = randomF32(s.batch * s.tokens * s.dim, s.tokens, -2, 2);
      const x = await upload(data, [s.batch, s.tokens, s.dim]);
      const out = await probeMeanPool(ctx, x, s);
      const got = await out.download();
      const want = meanPoolReference(data, s.batch, s.tokens, s.dim);
      const absMean = meanPoolReference(data.map(Math.abs), s.batch, s.tokens, s.dim);
      const bound = (i: number) =>
        2 * (gammaF32(s.tokens + 1) * absMean[i] + U * Math.abs(want[i]));
      expect(worstRatio(got, want, bound)).toBeLessThanOrEqual(1);
      // A token dropped (what an off-by-one loop would do) is far outside.
      if (s.tokens > 1) {
        const dropped = meanPoolReference(data, s.batch, s.tokens, s.dim).map(
          (v, i) =>
            v -
            data[(Math.floor(i / s.dim) * s.tokens + s.tokens - 1) * s.dim + (i % s.dim)] /
              s.tokens,
        );
        expect(worstRatio(got, dropped, bound)).toBeGreaterThan(10);
      }
      x.destroy();
      out.destroy();
    });
  }
});

/** Per-output forward bounds of the pooling (see the file's header). */
function poolForwardBounds(q: Float32Array, k: Float32Array, v: Float32Array, s: ProbePoolShape) {
  const { batch: B, tokens: N, heads: H, headDim: dh } = s;
  const D = H * dh;
  const scale = 1 / Math.sqrt(dh);
  const { probs } = attentionPoolForwardReference(q, k, v, s);
  const bound = new Float64Array(B * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      // Scores: a dh-term dot product (γ_dh Σ|q||k|), then the scale (u|s|).
      let scoreErr = 0;
      let range = 0;
      for (let n = 0; n < N; n++) {
        let abs = 0;
        let dot = 0;
        for (let j = 0; j < dh; j++) {
          abs += Math.abs(q[h * dh + j] * k[(b * N + n) * D + h * dh + j]);
          dot += q[h * dh + j] * k[(b * N + n) * D + h * dh + j];
        }
        scoreErr = Math.max(scoreErr, gammaF32(dh + 1) * abs * scale + U * Math.abs(dot * scale));
        range = Math.max(range, Math.abs(dot * scale));
      }
      // Each p_n: shifted scores off by ≤ 2·scoreErr, exp 3 + 2|x| ULP, the sum γ_N, 1/sum u.
      const pRel = 2 * 2 * scoreErr + (3 + 4 * range) * U + gammaF32(N + 2);
      for (let j = 0; j < dh; j++) {
        let e = 0;
        for (let n = 0; n < N; n++) {
          const p = probs[(b * H + h) * N + n];
          const vv = Math.abs(v[(b * N + n) * D + h * dh + j]);
          e += p * vv * (2 * pRel + gammaF32(N + 1));
        }
        bound[b * D + h * dh + j] = 2 * e + 1e-30;
      }
    }
  return bound;
}

const poolCases: Array<[string, ProbePoolShape]> = [
  ['B=1 N=1 H=1 dh=4 (a single token)', { batch: 1, tokens: 1, heads: 1, headDim: 4 }],
  ['B=3 N=17 H=3 dh=8', { batch: 3, tokens: 17, heads: 3, headDim: 8 }],
  [
    'B=2 N=65 H=1 dh=64 (tokens past the 64 lanes)',
    { batch: 2, tokens: 65, heads: 1, headDim: 64 },
  ],
  ['B=1 N=256 H=6 dh=32 (aim-tiny-like width)', { batch: 1, tokens: 256, heads: 6, headDim: 32 }],
  ['B=4 N=16 H=2 dh=3 (odd dh)', { batch: 4, tokens: 16, heads: 2, headDim: 3 }],
];

function poolInputs(s: ProbePoolShape, seed: number) {
  const D = s.heads * s.headDim;
  return {
    q: randomF32(D, seed, -1, 1),
    k: randomF32(s.batch * s.tokens * D, seed + 1, -2, 2),
    v: randomF32(s.batch * s.tokens * D, seed + 2, -1, 1),
    dPooled: randomF32(s.batch * D, seed + 3, -1, 1),
  };
}

describe('probe attention pooling forward against float64', () => {
  poolCases.forEach(([name, s], n) => {
    it(name, async () => {
      const ctx = await testGpu();
      const D = s.heads * s.headDim;
      const inp = poolInputs(s, 400 + n);
      const q = await upload(inp.q, [D]);
      const k = await upload(inp.k, [s.batch, s.tokens, D]);
      const v = await upload(inp.v, [s.batch, s.tokens, D]);
      const out = await probeAttentionPoolForward(ctx, { q, k, v }, s);
      const pooled = await out.pooled.download();
      const probs = await out.probs.download();
      const want = attentionPoolForwardReference(inp.q, inp.k, inp.v, s);
      const bound = poolForwardBounds(inp.q, inp.k, inp.v, s);
      expect(worstRatio(pooled, want.pooled, (i) => bound[i])).toBeLessThanOrEqual(1);
      expect(
        worstRatio(probs, want.probs, (i) => 1e-5 * want.probs[i] + 1e-12),
      ).toBeLessThanOrEqual(1);
      if (s.tokens > 1) {
        // Without the 1/√dh scale the probabilities differ by O(p).
        const unscaled = attentionPoolForwardReference(
          inp.q.map((x) => x * Math.sqrt(s.headDim)),
          inp.k,
          inp.v,
          s,
        );
        expect(worstRatio(pooled, unscaled.pooled, (i) => bound[i])).toBeGreaterThan(10);
      }
      for (const t of [q, k, v, out.pooled, out.probs]) t.destroy();
    });
  });

  it('refuses more tokens than the kernel holds', async () => {
    const ctx = await testGpu();
    const q = await upload([1], [1]);
    const kv = Tensor.empty(ctx, [1, 1025, 1], 'f32', 'kv');
    await expect(
      probeAttentionPoolForward(
        ctx,
        { q, k: kv, v: kv },
        { batch: 1, tokens: 1025, heads: 1, headDim: 1 },
      ),
    ).rejects.toThrow(/1025 tokens per image exceed/);
    q.destroy();
    kv.destroy();
  });
});

describe('probe attention pooling backward against float64', () => {
  poolCases.forEach(([name, s], n) => {
    it(name, async () => {
      const ctx = await testGpu();
      const { batch: B, tokens: N, heads: H, headDim: dh } = s;
      const D = H * dh;
      const scale = 1 / Math.sqrt(dh);
      const inp = poolInputs(s, 500 + n);
      // Fed the f32-rounded exact forward outputs, so the comparison is of the backward alone.
      const fwd = attentionPoolForwardReference(inp.q, inp.k, inp.v, s);
      const tensors = {
        q: await upload(inp.q, [D]),
        k: await upload(inp.k, [B, N, D]),
        v: await upload(inp.v, [B, N, D]),
        probs: await upload(Float32Array.from(fwd.probs), [B, H, N]),
        pooled: await upload(Float32Array.from(fwd.pooled), [B, D]),
        dPooled: await upload(inp.dPooled, [B, D]),
      };
      const out = await probeAttentionPoolBackward(ctx, tensors, s);
      const got = {
        dq: await out.dqSample.download(),
        dk: await out.dk.download(),
        dv: await out.dv.download(),
      };
      const want = attentionPoolBackwardReference(inp.q, inp.k, inp.v, inp.dPooled, s);
      // Bounds: dp_n and δ are dh-term dot products (γ_dh Σ|g||v|, γ_dh Σ|g||pooled|), p and
      // pooled carry their f32 rounding (u); ds_n = p_n(dp_n − δ) adds 3u; dk = scale·ds·q two
      // more; dq sums N products (γ_N). dv = p·g rounds p (u) and the product (u).
      const bk = new Float64Array(B * N * D);
      const bq = new Float64Array(B * D);
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++) {
          let deltaAbs = 0;
          for (let j = 0; j < dh; j++)
            deltaAbs += Math.abs(inp.dPooled[b * D + h * dh + j] * fwd.pooled[b * D + h * dh + j]);
          const dsErr: number[] = [];
          for (let t = 0; t < N; t++) {
            let dpAbs = 0;
            let dp = 0;
            for (let j = 0; j < dh; j++) {
              const g = inp.dPooled[b * D + h * dh + j];
              dpAbs += Math.abs(g * inp.v[(b * N + t) * D + h * dh + j]);
              dp += g * inp.v[(b * N + t) * D + h * dh + j];
            }
            const p = fwd.probs[(b * H + h) * N + t];
            const e =
              p * (gammaF32(dh + 2) * (dpAbs + deltaAbs) + 4 * U * (Math.abs(dp) + deltaAbs));
            dsErr.push(e);
            for (let j = 0; j < dh; j++)
              bk[(b * N + t) * D + h * dh + j] =
                scale * Math.abs(inp.q[h * dh + j]) * (e + 3 * U * p * (Math.abs(dp) + deltaAbs));
          }
          for (let j = 0; j < dh; j++) {
            let e = 0;
            for (let t = 0; t < N; t++) {
              const kk = Math.abs(inp.k[(b * N + t) * D + h * dh + j]);
              const ds = Math.abs(
                want.dk[(b * N + t) * D + h * dh + j] / (scale * inp.q[h * dh + j] || 1),
              );
              e += kk * (dsErr[t] + gammaF32(N + 2) * ds);
            }
            bq[b * D + h * dh + j] = scale * e;
          }
        }
      expect(
        worstRatio(got.dv, want.dv, (i) => 2 * (3 * U * Math.abs(want.dv[i])) + 1e-30),
      ).toBeLessThanOrEqual(1);
      expect(worstRatio(got.dk, want.dk, (i) => 2 * bk[i] + 1e-30)).toBeLessThanOrEqual(1);
      expect(
        worstRatio(
          got.dq,
          want.dqSample,
          (i) => 2 * bq[i] + 2 * U * Math.abs(want.dqSample[i]) + 1e-30,
        ),
      ).toBeLessThanOrEqual(1);
      for (const t of [...Object.values(tensors), out.dqSample, out.dk, out.dv]) t.destroy();
    });
  });
});

describe('probe cross-entropy against float64', () => {
  const cases: Array<[number, number]> = [
    [1, 1],
    [3, 7],
    [300, 10],
    [1, 7],
  ];
  for (const [B, C] of cases) {
    it(`B=${B}, ${C} class(es); the running sum adds`, async () => {
      const ctx = await testGpu();
      const logits = randomF32(B * C, B + C, -4, 4);
      const labels = Array.from({ length: B }, (_, b) => (b * 5 + 3) % C);
      const l = await upload(logits, [B, C]);
      const y = await uploadU32(labels, [B]);
      const loss = await upload([0, 0.5], [2]);
      const out = await probeCrossEntropy(
        ctx,
        { logits: l, labels: y, loss },
        { batch: B, classes: C },
      );
      const got = await out.loss.download();
      const dlogits = await out.dlogits.download();
      const want = crossEntropyReference(logits, labels, C);
      // Per sample: max, C exps (3 + 2|x| ULP, |x| ≤ 8), a C-term sum, log (3 ULP), two subtractions;
      // then a ⌈B/256⌉ + 8-deep batch sum.
      const perSample = (C + 30) * U * 12;
      const lossBound = 2 * (perSample + gammaF32(Math.ceil(B / 256) + 9) * (want.loss + 8));
      expect(Math.abs(got[0] - want.loss)).toBeLessThanOrEqual(lossBound);
      expect(Math.abs(got[1] - (0.5 + want.loss))).toBeLessThanOrEqual(lossBound + U);
      const gradBound = (i: number) => 2 * ((C + 30) * U * (Math.abs(want.dlogits[i]) + 1 / B));
      expect(worstRatio(dlogits, want.dlogits, gradBound)).toBeLessThanOrEqual(1);
      if (C > 1) {
        const shifted = crossEntropyReference(
          logits,
          labels.map((x) => (x + 1) % C),
          C,
        );
        expect(worstRatio(dlogits, shifted.dlogits, gradBound)).toBeGreaterThan(10);
      }
      for (const t of [l, y, loss, out.dlogits]) t.destroy();
    });
  }
});
