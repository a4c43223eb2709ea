/**
 * The `layouts` suite: `shaders/matmul.wgsl` in the transposes and fused epilogues a training
 * step uses, at the shapes of AIM-tiny (width 192) and AIM-small (width 384) with batch 256
 * (64 tokens per image, so M = 16384 token rows), to show what each epilogue costs.
 *
 * Every case names a `baseline` with the same M, N, K where one exists, and reports
 * `vsBaseline` = its time ÷ the baseline's (1.00 means the epilogue or transpose is free).
 * bench/torch_bench.py runs the same case ids with PyTorch's eager equivalents.
 *
 * Correctness: after timing, C (and, for GELU, the pre-activation kept in aux) is recomputed
 * once from a known state and sampled elements are compared with float64 dot products plus
 * `epilogueReference`, within test/matmul.test.ts's bound: 1.13·γ_K·Σ|a||b| (GELU's slope is
 * ≤ 1.13), plus 6e-7·(|c| + |a·b| + 1) when an epilogue adds its few f32 roundings.
 */
import type { GpuContext } from '../src/gpu/context';
import { releaseDispatch, type PreparedDispatch } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import {
  matmulOutputShape,
  matmulShape,
  prepareMatmul,
  type MatmulOptions,
  type MatmulTensors,
  type MatmulShape,
} from '../src/kernels/matmul';
import { PRESETS, gridSize, type PresetName } from '../src/model/config';
import { epilogueReference, gammaF32 } from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { emit, samplePositions, sig, tflops, worstRatio } from './stats';
import { message, planFrom, type SuiteEnv } from './suite';
import { readElements, submitMany, timeDispatches, type RunPlan } from './timing';

export const LAYOUT_PRESETS: PresetName[] = ['aim-tiny', 'aim-small'];

interface Epilogue {
  bias?: boolean;
  activation?: 'gelu' | 'gelu-grad';
  residual?: boolean;
  accumulate?: boolean;
}

export interface LayoutCase {
  /** Stable id, shared with bench/torch_bench.py (the join key with the preset). */
  id: string;
  what: string;
  /** Stored shapes: A is [K, M] when transA, B is [N, K] when transB (a Linear weight). */
  aShape: [number, number];
  bShape: [number, number];
  transA?: boolean;
  transB?: boolean;
  /** Split K as the model's weight gradients do (split only where the adapter needs it). */
  splitK?: boolean;
  epilogue: Epilogue;
  baseline?: string;
}

type CaseOptions = Pick<LayoutCase, 'transA' | 'transB' | 'splitK' | 'baseline'> & Epilogue;

function layout(
  id: string,
  what: string,
  aShape: [number, number],
  bShape: [number, number],
  { transA, transB, splitK, baseline, ...epilogue }: CaseOptions = {},
): LayoutCase {
  return { id, what, aShape, bShape, transA, transB, splitK, epilogue, baseline };
}

/**
 * The matmuls of one transformer block's training step, for M token rows and width D (MLP
 * hidden F = 4·D, ml-aim's ratio). Weights are stored as PyTorch Linear weights [out, in].
 */
export function layoutCases(rows: number, width: number): LayoutCase[] {
  const [M, D, F] = [rows, width, 4 * width];
  const t = { transB: true };
  return [
    layout('qkv:ABt', 'qkv = X·Wqkvᵀ', [M, D], [3 * D, D], t),
    layout('fc1:AB', 'X·W with W stored [K, N] (no transpose)', [M, D], [D, F]),
    layout('fc1:ABt', 'X·W1ᵀ', [M, D], [F, D], { ...t, baseline: 'fc1:AB' }),
    layout('fc1:ABt+bias', 'X·W1ᵀ + b', [M, D], [F, D], { ...t, bias: true, baseline: 'fc1:ABt' }),
    layout(
      'fc1:ABt+gelu',
      'gelu(X·W1ᵀ), pre-activation kept in aux (ml-aim: no bias)',
      [M, D],
      [F, D],
      {
        ...t,
        activation: 'gelu',
        baseline: 'fc1:ABt',
      },
    ),
    layout('fc1:ABt+bias+gelu', 'gelu(X·W1ᵀ + b), pre-activation kept in aux', [M, D], [F, D], {
      ...t,
      bias: true,
      activation: 'gelu',
      baseline: 'fc1:ABt',
    }),
    layout('fc2:ABt', 'H·W2ᵀ', [M, F], [D, F], t),
    layout('fc2:ABt+residual', 'X + H·W2ᵀ', [M, F], [D, F], {
      ...t,
      residual: true,
      baseline: 'fc2:ABt',
    }),
    layout('fc2-dgrad:AB+gelu-grad', "dH = (dY·W2) ∘ gelu'(aux)", [M, D], [D, F], {
      activation: 'gelu-grad',
      baseline: 'fc1:AB',
    }),
    layout('fc1-wgrad:AtB', 'dW1 = dHᵀ·X (K = M)', [M, F], [M, D], { transA: true, splitK: true }),
    layout('fc1-wgrad:AtB+accumulate', 'dW1 += dHᵀ·X', [M, F], [M, D], {
      transA: true,
      splitK: true,
      accumulate: true,
      baseline: 'fc1-wgrad:AtB',
    }),
    layout('fc2-wgrad:AtB', 'dW2 = dYᵀ·H (K = M)', [M, D], [M, F], {
      transA: true,
      splitK: true,
    }),
  ];
}

interface Prepared {
  s: MatmulShape;
  a: Tensor<'f32'>;
  b: Tensor<'f32'>;
  c: Tensor<'f32'>;
  epilogue: Pick<MatmulTensors, 'bias' | 'residual' | 'aux'>;
  opts: MatmulOptions;
  tensors: Tensor<'f32'>[];
  data: Record<'a' | 'b' | 'bias' | 'residual' | 'previous' | 'aux', Float32Array | undefined>;
}

/** Uploads seeded inputs for a case (aux for gelu-grad in [−3, 3), where gelu' varies most). */
function upload(ctx: GpuContext, c: LayoutCase, seed: number): Prepared {
  const s = matmulShape(c.aShape, c.bShape, c);
  const outShape = matmulOutputShape(s, false);
  const size = s.m * s.n;
  const e = c.epilogue;
  const data: Prepared['data'] = {
    a: randomF32(c.aShape[0] * c.aShape[1], seed),
    b: randomF32(c.bShape[0] * c.bShape[1], seed + 1),
    bias: e.bias ? randomF32(s.n, seed + 2) : undefined,
    residual: e.residual ? randomF32(size, seed + 3) : undefined,
    previous: e.accumulate ? randomF32(size, seed + 4) : undefined,
    aux: e.activation === 'gelu-grad' ? randomF32(size, seed + 5, -3, 3) : undefined,
  };
  const tensors: Tensor<'f32'>[] = [];
  const make = (shape: readonly number[], values: Float32Array | undefined, label: string) => {
    const t = values
      ? Tensor.fromArray(ctx, shape, 'f32', values, label)
      : Tensor.empty(ctx, shape, 'f32', label);
    tensors.push(t);
    return t;
  };
  const a = make(c.aShape, data.a, 'A');
  const b = make(c.bShape, data.b, 'B');
  const out = make(outShape, data.previous, 'C');
  const epilogue = {
    bias: e.bias ? make([s.n], data.bias, 'bias') : undefined,
    residual: e.residual ? make(outShape, data.residual, 'residual') : undefined,
    aux: e.activation ? make(outShape, data.aux, 'aux') : undefined,
  };
  const opts: MatmulOptions = {
    transA: c.transA,
    transB: c.transB,
    activation: e.activation ?? 'none',
    accumulate: e.accumulate,
    splitK: c.splitK,
  };
  return { s, a, b, c: out, epilogue, opts, tensors, data };
}

/** Runs the case once from its initial state and grades sampled elements of C (and aux). */
async function check(ctx: GpuContext, c: LayoutCase, p: Prepared, dispatches: PreparedDispatch[]) {
  const { s, data } = p;
  if (data.previous) p.c.upload(data.previous); // accumulate: start again from C₀
  await submitMany(ctx, 'bench layout check', dispatches, 1);
  const positions = samplePositions(s.m, s.n);
  const flat = positions.map(([i, j]) => i * s.n + j);
  const got = await readElements(ctx, p.c.buffer, flat);
  const aux = c.epilogue.activation === 'gelu' ? p.epilogue.aux : undefined;
  const gotAux = aux ? await readElements(ctx, aux.buffer, flat) : undefined;
  const a = data.a!;
  const b = data.b!;
  const gamma = gammaF32(s.k);
  const hasEpilogue = Object.keys(c.epilogue).length > 0;
  let worst = 0;
  positions.forEach(([i, j], n) => {
    let dot = 0;
    let absDot = 0;
    for (let k = 0; k < s.k; k++) {
      const av = s.transA ? a[k * s.m + i] : a[i * s.k + k];
      const bv = s.transB ? b[j * s.k + k] : b[k * s.n + j];
      dot += av * bv;
      absDot += Math.abs(av * bv);
    }
    const at = flat[n];
    const pick = (x: Float32Array | undefined, index: number) => (x ? [x[index]] : undefined);
    const { c: want, preActivation } = epilogueReference(Float64Array.of(dot), 1, {
      bias: pick(data.bias, j),
      activation: c.epilogue.activation,
      aux: pick(data.aux, at),
      residual: pick(data.residual, at),
      previous: pick(data.previous, at),
    });
    const tol =
      1.13 * gamma * absDot +
      (hasEpilogue ? 6e-7 * (Math.abs(want[0]) + Math.abs(dot) + 1) : 0) +
      1e-30;
    worst = Math.max(
      worst,
      worstRatio([got[n]], want, () => tol),
    );
    if (gotAux && preActivation) {
      const pre = preActivation[0];
      worst = Math.max(
        worst,
        worstRatio([gotAux[n]], preActivation, () => gamma * absDot + 2e-7 * (Math.abs(pre) + 1)),
      );
    }
  });
  return { samples: positions.length, worstBoundRatio: sig(worst, 3), ok: worst <= 1 };
}

/** Runs every case of each preset; returns the failure count. */
export async function runLayoutsSuite(
  env: SuiteEnv,
  batch: number,
  presets: readonly PresetName[],
) {
  const { ctx } = env;
  const plan: RunPlan = planFrom(env.args, {
    reps: env.fallback ? 3 : 20,
    warmup: env.fallback ? 1 : 3,
    trials: 3,
  });
  let failures = 0;
  for (const presetName of presets) {
    const preset = PRESETS[presetName];
    const rows = batch * gridSize(preset) ** 2;
    const msById = new Map<string, number>();
    for (const [n, c] of layoutCases(rows, preset.width).entries()) {
      const base = { name: 'layout', impl: 'aim-wgsl', preset: presetName, case: c.id };
      let p: Prepared | undefined;
      let dispatches: PreparedDispatch[] = [];
      try {
        p = upload(ctx, c, 100 * n + 1);
        dispatches = await prepareMatmul(ctx, { a: p.a, b: p.b, c: p.c, ...p.epilogue }, p.opts);
        const r = await timeDispatches(ctx, `bench layout ${presetName} ${c.id}`, dispatches, plan);
        const result = await check(ctx, c, p, dispatches);
        msById.set(c.id, r.ms);
        const baselineMs = c.baseline ? msById.get(c.baseline) : undefined;
        const { m, n: cols, k } = p.s;
        emit({
          ...base,
          what: c.what,
          shape: [m, cols, k],
          aShape: c.aShape,
          bShape: c.bShape,
          ms: sig(r.ms),
          tflops: sig(tflops(m, cols, k, r.ms)),
          baseline: c.baseline,
          vsBaseline: baselineMs === undefined ? undefined : sig(r.ms / baselineMs, 3),
          timing: r.timing,
          adapter: env.adapter,
          gpuMs: r.gpuMs === undefined ? undefined : sig(r.gpuMs),
          wallBatchedMs: sig(r.wallBatchedMs),
          wallMedianMs: sig(r.wallMedianMs),
          reps: plan.reps,
          warmup: plan.warmup,
          trials: plan.trials,
          check: result,
          // A split product is two dispatches: the partial products, then the reduce.
          kernel: dispatches.map((d) => d.name).join(' → '),
          workgroups: dispatches[0].workgroups,
        });
        if (!result.ok) failures++;
      } catch (error) {
        failures++;
        emit({ ...base, adapter: env.adapter, error: message(error) });
      } finally {
        for (const d of dispatches) releaseDispatch(d);
        for (const t of p?.tensors ?? []) t.destroy();
      }
    }
  }
  return failures;
}
