/**
 * The `attention` suite: this project's fused prefix-causal attention (src/kernels/attention.ts)
 * on AIM-shaped inputs — forward, backward (its three dispatches) and forward+backward — with
 * the same prefixes bench/torch_bench.py gives PyTorch's scaled_dot_product_attention.
 *
 * Shapes: qkv [B, T, 3·D] with D = 384 split into H = D/dh heads (dh 32 → H = 12, dh 64 →
 * H = 6), B = 256, T ∈ {64, 256}. Prefix lengths S_b are AIM's: uniform in {1, …, T − 1},
 * drawn by `mulberry32(prefixSeed(T))` (torch_bench.py has the same generator, and both print
 * `prefixSum` and `allowedFraction` so bench/compare.ts can verify the masks agree).
 *
 * FLOPs (the convention of FlashAttention's papers, counting only the (query, key) pairs the
 * mask allows — masked-out pairs count as skipped): forward 4·H·dh per allowed pair (Q·Kᵀ and
 * P·V), backward 2.5× the forward (five T×T×dh products instead of two), forward+backward
 * 3.5×. `denseTflops` counts every pair (4·B·H·T²·dh for the forward), as a dense kernel would.
 *
 * Correctness: after timing, one whole sample (the last, every head) of out, L and dqkv is read
 * back and compared with src/reference/attention.ts under its f32 error bounds (the same check
 * as test/attention.test.ts), so a broken kernel reports `"ok": false` instead of a time.
 */
import { releaseDispatch, type PreparedDispatch } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import {
  attentionBlockSizes,
  prepareAttentionBackward,
  prepareAttentionForward,
} from '../src/kernels/attention';
import {
  attentionBackwardErrorBound,
  attentionBackwardReference,
  attentionForwardErrorBound,
  attentionForwardReference,
  type AttentionShape,
} from '../src/reference/attention';
import { mulberry32, randomF32 } from '../src/reference/random';
import { emit, sig, worstRatio } from './stats';
import { message, planFrom, type SuiteEnv } from './suite';
import { readRange, timeDispatches, type RunPlan, type Timed } from './timing';

/** The model width of every attention case (AIM-small's; AIM-tiny's 192 halves the heads). */
export const ATTENTION_WIDTH = 384;
export const ATTENTION_SEQ_LENS = [64, 256];
export const ATTENTION_HEAD_DIMS = [32, 64];

export interface AttentionBenchCase {
  batch: number;
  seqLen: number;
  headDim: number;
  width: number;
}

export type AttentionPass = 'forward' | 'backward' | 'forward+backward';

/** Backward and forward+backward FLOPs as multiples of the forward's. */
export const PASS_FLOP_FACTOR: Record<AttentionPass, number> = {
  forward: 1,
  backward: 2.5,
  'forward+backward': 3.5,
};

/** Seed of the prefix lengths for sequence length T (torch_bench.py uses the same). */
export function prefixSeed(seqLen: number): number {
  return 7000 + seqLen;
}

/** AIM's pre-training prefixes: S_b uniform in {1, …, T − 1} (1 when T ≤ 2). */
export function aimPrefixes(batch: number, seqLen: number, seed: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: batch }, () => 1 + Math.floor(next() * Math.max(1, seqLen - 1)));
}

/** (query, key) pairs with j < S or j ≤ i among T×T: S² from the prefix rows, then i + 1 per row. */
export function allowedPairs(prefix: number, seqLen: number): number {
  const s = Math.min(Math.max(prefix, 0), seqLen);
  return s * s + (seqLen * (seqLen + 1) - s * (s + 1)) / 2;
}

/** The cases at a batch size: T × dh, or only T = 64 when quick (SwiftShader). */
export function attentionCases(batch: number, quick: boolean): AttentionBenchCase[] {
  const seqLens = quick ? [64] : ATTENTION_SEQ_LENS;
  return seqLens.flatMap((seqLen) =>
    ATTENTION_HEAD_DIMS.map((headDim) => ({ batch, seqLen, headDim, width: ATTENTION_WIDTH })),
  );
}

/** The `ci` suite's case: AIM-tiny's attention (width 192, 6 heads of 32, 64 tokens), batch 4. */
export const CI_ATTENTION_CASES: AttentionBenchCase[] = [
  { batch: 4, seqLen: 64, headDim: 32, width: 192 },
];

export interface AttentionCheck {
  /** The sample compared (the last), its prefix, and max error ÷ f32 bound per output. */
  sample: number;
  prefix: number;
  outRatio: number;
  lseRatio: number;
  dqkvRatio: number;
  ok: boolean;
}

function shapeOf(c: AttentionBenchCase, batch = c.batch): AttentionShape {
  return { batch, seqLen: c.seqLen, heads: c.width / c.headDim, headDim: c.headDim };
}

interface GpuTensors {
  qkv: Tensor<'f32'>;
  out: Tensor<'f32'>;
  lse: Tensor<'f32'>;
  dQkv: Tensor<'f32'>;
}

/** Reads the last sample of out, L and dqkv and grades them against the float64 reference. */
async function checkLastSample(
  env: SuiteEnv,
  c: AttentionBenchCase,
  t: GpuTensors,
  qkvData: Float32Array,
  dOutData: Float32Array,
  prefixes: readonly number[],
): Promise<AttentionCheck> {
  const { ctx } = env;
  const s = shapeOf(c, 1);
  const b = c.batch - 1;
  const rowsQkv = c.seqLen * 3 * c.width;
  const rowsOut = c.seqLen * c.width;
  const qkv = qkvData.subarray(b * rowsQkv, (b + 1) * rowsQkv);
  const dOut = dOutData.subarray(b * rowsOut, (b + 1) * rowsOut);
  const prefix = [prefixes[b]];
  const out = await readRange(ctx, t.out.buffer, b * rowsOut, rowsOut);
  const lse = await readRange(ctx, t.lse.buffer, b * s.heads * c.seqLen, s.heads * c.seqLen);
  const dqkv = await readRange(ctx, t.dQkv.buffer, b * rowsQkv, rowsQkv);

  const rescales = Math.ceil(c.seqLen / attentionBlockSizes(c.headDim).forward.key);
  const want = attentionForwardReference(qkv, prefix, s);
  const bound = attentionForwardErrorBound(qkv, prefix, s, rescales);
  const wantGrad = attentionBackwardReference(qkv, dOut, prefix, s);
  const gradBound = attentionBackwardErrorBound(qkv, dOut, out, lse, prefix, s);
  const outRatio = worstRatio(out, want.out, (i) => bound.out[i]);
  const lseRatio = worstRatio(lse, want.lse, (i) => bound.lse[i]);
  const dqkvRatio = worstRatio(dqkv, wantGrad, (i) => gradBound[i]);
  return {
    sample: b,
    prefix: prefixes[b],
    outRatio: sig(outRatio, 3),
    lseRatio: sig(lseRatio, 3),
    dqkvRatio: sig(dqkvRatio, 3),
    ok: outRatio <= 1 && lseRatio <= 1 && dqkvRatio <= 1,
  };
}

interface CaseInputs {
  qkv: Float32Array;
  dOut: Float32Array;
  prefixes: number[];
}

/** Times one case (three passes) and checks it; returns its result lines. */
async function benchCase(
  env: SuiteEnv,
  c: AttentionBenchCase,
  inputs: CaseInputs,
  plan: RunPlan,
): Promise<Record<string, unknown>[]> {
  const { ctx } = env;
  const s = shapeOf(c);
  const opts = { heads: s.heads };
  const qkv = Tensor.fromArray(ctx, [c.batch, c.seqLen, 3 * c.width], 'f32', inputs.qkv, 'qkv');
  const dOut = Tensor.fromArray(ctx, [c.batch, c.seqLen, c.width], 'f32', inputs.dOut, 'dOut');
  const prefixLengths = Tensor.fromArray(ctx, [c.batch], 'u32', inputs.prefixes, 'prefixes');
  const out = Tensor.empty(ctx, [c.batch, c.seqLen, c.width], 'f32', 'attention out');
  const lse = Tensor.empty(ctx, [c.batch, s.heads, c.seqLen], 'f32', 'attention L');
  const dQkv = Tensor.empty(ctx, qkv.shape, 'f32', 'attention dqkv');
  const dispatches: PreparedDispatch[] = [];
  try {
    const forward = await prepareAttentionForward(ctx, { qkv, prefixLengths, out, lse }, opts);
    dispatches.push(...forward);
    const backward = await prepareAttentionBackward(
      ctx,
      { qkv, out, lse, dOut, prefixLengths, dQkv },
      opts,
    );
    dispatches.push(...backward);
    const label = `bench attention B=${c.batch} T=${c.seqLen} H=${s.heads} dh=${c.headDim}`;
    // The forward runs first (its warm-ups fill out and L), so the backward reads real values.
    const timed: Record<AttentionPass, Timed> = {
      forward: await timeDispatches(ctx, `${label} fwd`, forward, plan),
      backward: await timeDispatches(ctx, `${label} bwd`, backward, plan),
      'forward+backward': await timeDispatches(ctx, `${label} fwd+bwd`, dispatches, plan),
    };
    const check = await checkLastSample(
      env,
      c,
      { qkv, out, lse, dQkv },
      inputs.qkv,
      inputs.dOut,
      inputs.prefixes,
    );

    const pairs = inputs.prefixes.reduce((acc, p) => acc + allowedPairs(p, c.seqLen), 0);
    const densePairs = c.batch * c.seqLen * c.seqLen;
    const forwardFlop = 4 * s.heads * c.headDim * pairs;
    const denseForwardFlop = 4 * s.heads * c.headDim * densePairs;
    return (Object.keys(timed) as AttentionPass[]).map((pass) => {
      const r = timed[pass];
      const flop = forwardFlop * PASS_FLOP_FACTOR[pass];
      const dense = denseForwardFlop * PASS_FLOP_FACTOR[pass];
      const perSecond = (f: number, ms: number) => sig(f / (ms * 1e-3) / 1e12);
      return {
        name: 'attention',
        impl: 'aim-wgsl',
        pass,
        shape: [c.batch, c.seqLen, s.heads, c.headDim],
        width: c.width,
        prefixSeed: prefixSeed(c.seqLen),
        prefixSum: inputs.prefixes.reduce((x, y) => x + y, 0),
        allowedFraction: sig(pairs / densePairs, 6),
        ms: sig(r.ms),
        tflops: perSecond(flop, r.ms),
        denseTflops: perSecond(dense, r.ms),
        gflop: sig(flop / 1e9),
        timing: r.timing,
        adapter: env.adapter,
        gpuMs: r.gpuMs === undefined ? undefined : sig(r.gpuMs),
        wallBatchedMs: sig(r.wallBatchedMs),
        wallMedianMs: sig(r.wallMedianMs),
        reps: plan.reps,
        warmup: plan.warmup,
        trials: plan.trials,
        check:
          pass === 'forward'
            ? { ...check, dqkvRatio: undefined, ok: check.outRatio <= 1 && check.lseRatio <= 1 }
            : check,
        kernels: (pass === 'forward' ? forward : pass === 'backward' ? backward : dispatches).map(
          (d) => d.name,
        ),
      };
    });
  } finally {
    for (const d of dispatches) releaseDispatch(d);
    for (const t of [qkv, dOut, prefixLengths, out, lse, dQkv]) t.destroy();
  }
}

/** Runs the cases (grouped by T so each T's inputs are drawn once); returns the failure count. */
export async function runAttentionSuite(
  env: SuiteEnv,
  cases: readonly AttentionBenchCase[],
): Promise<number> {
  const plan = planFrom(env.args, {
    reps: env.fallback ? 3 : 20,
    warmup: env.fallback ? 1 : 3,
    trials: 3,
  });
  let failures = 0;
  let inputs: (CaseInputs & { key: string }) | undefined;
  for (const c of cases) {
    const key = `${c.batch},${c.seqLen},${c.width}`;
    if (inputs?.key !== key) {
      inputs = undefined; // let the previous T's arrays go before drawing the next ones
      inputs = {
        key,
        // qkv in [−2, 2) and dO in [−1, 1), as test/attention.test.ts (its bounds assume no more).
        qkv: randomF32(c.batch * c.seqLen * 3 * c.width, 9000 + c.seqLen, -2, 2),
        dOut: randomF32(c.batch * c.seqLen * c.width, 9500 + c.seqLen),
        prefixes: aimPrefixes(c.batch, c.seqLen, prefixSeed(c.seqLen)),
      };
    }
    try {
      const lines = await benchCase(env, c, inputs, plan);
      for (const line of lines) {
        emit(line);
        if (!(line.check as AttentionCheck).ok) failures++;
      }
    } catch (error) {
      failures++;
      const heads = c.width / c.headDim;
      emit({
        name: 'attention',
        impl: 'aim-wgsl',
        shape: [c.batch, c.seqLen, heads, c.headDim],
        adapter: env.adapter,
        error: message(error),
      });
    }
  }
  return failures;
}
