/**
 * The `matmul` suite: square f32 matmuls C = A·B (M = N = K = n) with this project's kernel
 * and, with `--tfjs`, tfjs-backend-webgpu's on the same adapter, plus a ratio line per size.
 */
import { chooseMatmulStages, chooseMatmulTile, matmulShape } from '../src/kernels/matmul';
import { randomF32 } from '../src/reference/random';
import { benchAimMatmul, type ImplResult, type MatmulInputs } from './aim';
import { emit, sig, tflops } from './stats';
import { message, planFrom, type SuiteEnv } from './suite';
import type { TfjsSession } from './tfjs';
import type { RunPlan } from './timing';

const square = (n: number) => matmulShape([n, n], [n, n]);

function planFor(n: number, env: SuiteEnv): RunPlan {
  return planFrom(env.args, {
    reps: env.fallback ? 5 : n >= 8192 ? 10 : 20,
    warmup: env.fallback ? 1 : 3,
    trials: 3,
  });
}

type Impl = 'aim-wgsl' | 'aim-wgsl-one-stage' | 'tfjs-webgpu';

function resultLine(
  impl: Impl,
  n: number,
  adapter: string,
  plan: RunPlan,
  r: ImplResult,
): Record<string, unknown> {
  const opt = (ms: number | undefined) => (ms === undefined ? undefined : sig(ms));
  return {
    name: 'matmul',
    impl,
    shape: [n, n, n],
    ms: sig(r.ms),
    tflops: sig(tflops(n, n, n, r.ms)),
    timing: r.timing,
    adapter,
    gpuMs: opt(r.gpuMs),
    wallBatchedMs: sig(r.wallBatchedMs),
    wallBatchedTflops: sig(tflops(n, n, n, r.wallBatchedMs)),
    wallMedianMs: sig(r.wallMedianMs),
    reps: plan.reps,
    warmup: plan.warmup,
    trials: plan.trials,
    check: r.check,
    ...r.extra,
  };
}

/**
 * Speed of aim-wgsl relative to tfjs (tfjs ms ÷ aim ms; > 1 means aim is faster), on GPU
 * time when both have it, else on batched wall-clock time.
 */
function ratioLine(n: number, aim: ImplResult, tfjs: ImplResult): Record<string, unknown> {
  const both = aim.gpuMs !== undefined && tfjs.gpuMs !== undefined;
  const aimMs = both ? aim.gpuMs! : aim.wallBatchedMs;
  const tfjsMs = both ? tfjs.gpuMs! : tfjs.wallBatchedMs;
  return {
    name: 'matmul-ratio',
    shape: [n, n, n],
    aimOverTfjs: sig(tfjsMs / aimMs, 3),
    basis: both ? 'timestamp-query' : 'wall-clock',
    aimMs: sig(aimMs),
    tfjsMs: sig(tfjsMs),
    aimOverTfjsWallBatched: sig(tfjs.wallBatchedMs / aim.wallBatchedMs, 3),
    aimOverTfjsWallSingle: sig(tfjs.wallMedianMs / aim.wallMedianMs, 3),
  };
}

/** Runs the suite at `sizes`; returns the number of failures (errors or failed checks). */
export async function runMatmulSuite(
  env: SuiteEnv,
  sizes: readonly number[],
  tfjs: TfjsSession | undefined,
): Promise<number> {
  const { ctx, adapter } = env;
  let failures = 0;
  for (const n of sizes) {
    const plan = planFor(n, env);
    const inputs: MatmulInputs = {
      n,
      a: randomF32(n * n, 1000 + n),
      b: randomF32(n * n, 2000 + n),
    };
    // One implementation at this size: its line (or its error), counted when it fails.
    const measure = async (
      impl: Impl,
      lineAdapter: string,
      run: () => Promise<ImplResult>,
    ): Promise<ImplResult | undefined> => {
      try {
        const r = await run();
        emit(resultLine(impl, n, lineAdapter, plan, r));
        if (!r.check.ok) failures++;
        return r;
      } catch (error) {
        failures++;
        emit({ name: 'matmul', impl, shape: [n, n, n], adapter, error: message(error) });
        return undefined;
      }
    };
    const aim = await measure('aim-wgsl', adapter, () => benchAimMatmul(ctx, inputs, plan));
    // On a GPU that double-buffers, the same kernel on one shared-memory stage (what a 16 KiB
    // adapter runs): the one figure that says what double buffering is worth there.
    if (
      !env.fallback &&
      chooseMatmulStages(ctx.choices, chooseMatmulTile(ctx.choices, square(n))) === 2
    )
      await measure('aim-wgsl-one-stage', adapter, () => benchAimMatmul(ctx, inputs, plan, 1));
    if (!tfjs) continue;
    const base = await measure('tfjs-webgpu', tfjs.adapter || adapter, async () => {
      const { benchTfjsMatmul } = await import('./tfjs');
      return benchTfjsMatmul(tfjs, inputs, plan);
    });
    if (aim && base) emit(ratioLine(n, aim, base));
  }
  return failures;
}
