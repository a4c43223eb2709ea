/**
 * Benchmark entry in Node (Dawn through the npm package `webgpu`): this project's WGSL
 * kernels — square matmuls (and, with `--tfjs`, tfjs-backend-webgpu's on the same adapter),
 * fused attention forward/backward, matmul layouts and epilogues, whole training steps of
 * the AIM presets (bench/trainSuite.ts) — one JSON object per line
 * on stdout. See BENCHMARKS.md for how to run it locally and on a GPU machine, and
 * bench/compare.ts for joining its lines with bench/torch_bench.py's and bench/torch_aim.py's.
 */
import { adapterProfile } from '../src/gpu/adapterProfiles';
import { adapterDisplayName } from '../src/gpu/capabilities';
import { GpuContext } from '../src/gpu/context';
import { WebGpuUnavailableError, type GpuKernelError } from '../src/gpu/errors';
import { getGpu } from '../src/gpu/gpu';
import { fileShaderSource } from '../src/gpu/shaderSource.node';
import { FULL_SIZES, parseArgs, QUICK_SIZES, USAGE, type BenchArgs, type Suite } from './args';
import { attentionCases, CI_ATTENTION_CASES, runAttentionSuite } from './attentionSuite';
import { LAYOUT_PRESETS, runLayoutsSuite } from './layouts';
import { runMatmulSuite } from './matmulSuite';
import { runProfileSuite } from './profileSuite';
import { CI_TRAIN_CASES, CI_TRAIN_PLAN, runTrainSuite, trainCases } from './trainSuite';
import { emit } from './stats';
import { message, type SuiteEnv } from './suite';
import type { TfjsSession } from './tfjs';

/** Exit status when there is no WebGPU adapter (scripts/bench.mjs explains it). */
const EXIT_NO_ADAPTER = 2;

/** Matmul sizes of the `ci` suite: seconds on SwiftShader, enough to show a regression. */
const CI_SIZES = [128];

function includes(suite: Suite, part: 'matmul' | 'attention' | 'layouts' | 'train'): boolean {
  return suite === part || suite === 'all' || (suite === 'ci' && part !== 'layouts');
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`bench: ${message(error)}\n\n${USAGE}`);
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
      // The profile suite makes kernel choices as on the named adapter (--as).
      choicesAs:
        args.suite === 'profile' && args.as !== 'this' ? adapterProfile(args.as) : undefined,
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
  const quick = args.quick || fallback;
  const suite: Suite = args.suite ?? (fallback ? 'matmul' : 'all');
  const sizes = suite === 'ci' ? CI_SIZES : (args.sizes ?? (quick ? QUICK_SIZES : FULL_SIZES));
  // ci: few repetitions, so the whole suite stays within ~20 s on SwiftShader.
  if (suite === 'ci') {
    args = { ...args, reps: args.reps ?? 2, warmup: args.warmup ?? 1, trials: args.trials ?? 2 };
  }
  const env: SuiteEnv = { ctx, adapter, fallback, quick, args };
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
    choicesAs: ctx.choices === caps ? undefined : ctx.choices.adapter.description,
    suite,
    quick,
    sizes: includes(suite, 'matmul') ? sizes : undefined,
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
  if (args.tfjs && includes(suite, 'matmul')) {
    try {
      const { startTfjs } = await import('./tfjs');
      tfjs = await startTfjs((await getGpu()).gpu);
    } catch (error) {
      failures++;
      emit({ name: 'tfjs', error: `tfjs-backend-webgpu unavailable: ${message(error)}` });
    }
  }

  if (includes(suite, 'matmul')) failures += await runMatmulSuite(env, sizes, tfjs);
  if (includes(suite, 'attention')) {
    const cases =
      suite === 'ci' ? CI_ATTENTION_CASES : attentionCases(args.batch ?? (quick ? 4 : 256), quick);
    failures += await runAttentionSuite(env, cases);
  }
  if (includes(suite, 'layouts')) {
    // Quick (SwiftShader): one image of AIM-tiny (64 token rows), else batch 256 of both presets.
    const batch = args.batch ?? (quick ? 1 : 256);
    failures += await runLayoutsSuite(
      env,
      batch,
      quick ? LAYOUT_PRESETS.slice(0, 1) : LAYOUT_PRESETS,
    );
  }
  if (includes(suite, 'train')) {
    if (suite === 'ci') failures += await runTrainSuite(env, CI_TRAIN_CASES, CI_TRAIN_PLAN);
    else failures += await runTrainSuite(env, trainCases(args.batch, quick, args.presets));
  }

  if (suite === 'profile') {
    const cases = trainCases(args.batch, false, args.presets);
    failures += await runProfileSuite(env, cases, args.as, args.hostSteps);
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
