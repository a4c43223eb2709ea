/**
 * Matmul benchmark in Node (Dawn through the npm package `webgpu`): this project's WGSL
 * matmul and, with `--tfjs`, tfjs-backend-webgpu's on the same adapter. One JSON object
 * per line on stdout; see BENCHMARKS.md for how to run it locally and on a GPU machine.
 */
import { adapterDisplayName } from '../src/gpu/capabilities';
import { GpuContext } from '../src/gpu/context';
import { WebGpuUnavailableError, type GpuKernelError } from '../src/gpu/errors';
import { getGpu } from '../src/gpu/gpu';
import { fileShaderSource } from '../src/gpu/shaderSource.node';
import { randomF32 } from '../src/reference/random';
import { benchAimMatmul, type ImplResult, type MatmulInputs, type RunPlan } from './aim';
import { FULL_SIZES, parseArgs, QUICK_SIZES, USAGE, type BenchArgs } from './args';
import { emit, sig, tflops } from './stats';
import type { TfjsSession } from './tfjs';

/** Exit status when there is no WebGPU adapter (scripts/bench.mjs explains it). */
const EXIT_NO_ADAPTER = 2;

function planFor(n: number, args: BenchArgs, fallback: boolean): RunPlan {
  return {
    reps: args.reps ?? (fallback ? 5 : n >= 8192 ? 10 : 20),
    warmup: args.warmup ?? (fallback ? 1 : 3),
    trials: args.trials ?? 3,
  };
}

function resultLine(
  impl: 'aim-wgsl' | 'tfjs-webgpu',
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

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`bench: ${message(error)}`);
    return 64;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }

  let gpuError: GpuKernelError | undefined;
  let ctx: GpuContext;
  try {
    ctx = await GpuContext.create({
      shaderSource: fileShaderSource(),
      onUncapturedError: (error) => {
        gpuError ??= error;
        console.error(`bench: uncaptured GPU error: ${error.message}`);
      },
    });
  } catch (error) {
    if (error instanceof WebGpuUnavailableError) {
      console.error(`bench: no WebGPU adapter: ${error.message}\n  ${error.remedy}`);
      return EXIT_NO_ADAPTER;
    }
    throw error;
  }

  const caps = ctx.capabilities;
  const adapter = adapterDisplayName(caps);
  const fallback = caps.adapter.isFallbackAdapter;
  const sizes = args.sizes ?? (args.quick || fallback ? QUICK_SIZES : FULL_SIZES);
  emit({
    name: 'adapter',
    adapter,
    vendor: caps.adapter.vendor,
    architecture: caps.adapter.architecture,
    device: caps.adapter.device,
    description: caps.adapter.description,
    isFallbackAdapter: fallback,
    subgroupMinSize: caps.adapter.subgroupMinSize,
    subgroupMaxSize: caps.adapter.subgroupMaxSize,
    host: caps.host,
    timestampQuery: caps.timestampQuery,
    features: caps.features,
    limits: caps.limits,
    sizes,
    node: process.version,
    date: new Date().toISOString(),
  });
  if (fallback) {
    console.error(
      `bench: ${adapter} is a fallback (CPU) adapter: these numbers are CPU emulation, not a GPU.`,
    );
  }

  let failures = 0;
  let tfjs: TfjsSession | undefined;
  if (args.tfjs) {
    try {
      const { startTfjs } = await import('./tfjs');
      tfjs = await startTfjs((await getGpu()).gpu);
    } catch (error) {
      failures++;
      emit({ name: 'tfjs', error: `tfjs-backend-webgpu unavailable: ${message(error)}` });
    }
  }

  for (const n of sizes) {
    const plan = planFor(n, args, fallback);
    const inputs: MatmulInputs = {
      n,
      a: randomF32(n * n, 1000 + n),
      b: randomF32(n * n, 2000 + n),
    };
    let aim: ImplResult | undefined;
    try {
      aim = await benchAimMatmul(ctx, inputs, plan);
      emit(resultLine('aim-wgsl', n, adapter, plan, aim));
      if (!aim.check.ok) failures++;
    } catch (error) {
      failures++;
      emit({ name: 'matmul', impl: 'aim-wgsl', shape: [n, n, n], adapter, error: message(error) });
    }
    if (!tfjs) continue;
    let base: ImplResult | undefined;
    try {
      const { benchTfjsMatmul } = await import('./tfjs');
      base = await benchTfjsMatmul(tfjs, inputs, plan);
      emit(resultLine('tfjs-webgpu', n, tfjs.adapter || adapter, plan, base));
      if (!base.check.ok) failures++;
    } catch (error) {
      failures++;
      emit({
        name: 'matmul',
        impl: 'tfjs-webgpu',
        shape: [n, n, n],
        adapter,
        error: message(error),
      });
    }
    if (aim && base) emit(ratioLine(n, aim, base));
  }

  if (gpuError) failures++;
  ctx.destroy();
  if (failures > 0)
    console.error(`bench: ${failures} failure(s), see the "error"/"check" fields above`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('bench:', error);
    process.exit(1);
  },
);
