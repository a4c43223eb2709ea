/** Command-line flags of the benchmark (`node .gpu/bench.mjs --help`). */
import {
  choiceFlag,
  listFlag,
  numberFlag,
  parseFlags,
  type FlagOptions,
} from '../src/cli/flags.node';
import { ADAPTER_PROFILE_NAMES } from '../src/gpu/adapterProfiles';
import { PRESETS, type PresetName } from '../src/model/config';

export const SUITES = ['matmul', 'attention', 'layouts', 'train', 'profile', 'all', 'ci'] as const;

/** `--as`: the profile suite's kernel choices as on a named adapter, or on this one. */
export const PROFILE_AS = [...ADAPTER_PROFILE_NAMES, 'this'] as const;
export type ProfileAsName = (typeof PROFILE_AS)[number];
export type Suite = (typeof SUITES)[number];

export interface BenchArgs {
  /** Which measurements; undefined means "all" on a GPU, "matmul" on a fallback (CPU) adapter. */
  suite?: Suite;
  /** Square matmul sizes n (M = N = K = n); undefined means "pick from the adapter". */
  sizes?: number[];
  quick: boolean;
  tfjs: boolean;
  /** Batch of the attention, layouts and train suites; undefined means 256 (quick: 4, 1, 8). */
  batch?: number;
  /** Presets of the train suite; undefined means aim-tiny and aim-small (quick: aim-micro). */
  presets?: PresetName[];
  /** Timed repetitions per size; undefined means "pick from the size and adapter". */
  reps?: number;
  warmup?: number;
  /** How many batched timestamp measurements to take (their median is reported). */
  trials?: number;
  /** Profile suite: make kernel choices as on this adapter (default h100). */
  as: ProfileAsName;
  /** Profile suite: real Trainer steps for the host times (default 4; below 2 skips them). */
  hostSteps?: number;
  help: boolean;
}

export const QUICK_SIZES = [128, 256];
/** Presets the Trainer accepts (the larger ones are inference-only). */
export const TRAINABLE_PRESETS = (Object.keys(PRESETS) as PresetName[]).filter(
  (name) => !PRESETS[name].inferenceOnly,
);
export const FULL_SIZES = [1024, 4096, 8192];

export const USAGE = `Usage: node .gpu/bench.mjs [options]   (or: npm run bench -- [options])

  --suite NAME            what to measure (default: all on a GPU, matmul on a CPU adapter):
                            matmul     square f32 matmuls (and tfjs's with --tfjs)
                            attention  fused prefix-causal attention fwd / bwd / fwd+bwd,
                                       B=256, T 64 and 256, D=384 with dh 32 (H=12) and 64 (H=6)
                            layouts    matmul transposes and epilogues at AIM-tiny/-small
                                       training shapes (batch 256: 16384 token rows)
                            train      one whole training step (forward, backward, grad
                                       norm, AdamW) of aim-tiny and aim-small at batch 256:
                                       GPU time, Trainer.trainStep wall-clock, allocated
                                       memory, a 10-step loss guard
                            profile    the training step's structure, no GPU needed: every
                                       dispatch of the Trainer's step (kernel, constants,
                                       workgroups, FLOPs, bytes), totals, host times
                                       measured here, and a MODELED roofline time for the
                                       --as GPU (BENCHMARKS.md "Step profile")
                            all        matmul, attention, layouts and train
                            ci         tiny sizes for CI logs on SwiftShader (matmul 128³,
                                       attention B=4 T=64 H=6 dh=32, train aim-micro B=8;
                                       2 reps, 2 trials); not a performance figure
  --sizes 1024,4096,8192  square matmul sizes (M = N = K); default ${FULL_SIZES.join(',')}
                          on a GPU, ${QUICK_SIZES.join(',')} on a fallback (CPU) adapter
  --quick                 small sizes everywhere (the default on SwiftShader): matmul
                          ${QUICK_SIZES.join(',')}; attention batch 4, T = 64 only; layouts
                          one AIM-tiny image (64 token rows)
  --batch N               batch of the attention, layouts and train suites (default 256;
                          quick: 4, 1 and 8)
  --presets a,b           presets of the train suite (default aim-tiny,aim-small; quick:
                          aim-micro at batch 8), of ${TRAINABLE_PRESETS.join(', ')}
  --as NAME               profile suite: make every kernel choice as on ${PROFILE_AS.join(', ')}
                          (this = the real adapter); default h100
  --host-steps N          profile suite: real Trainer steps (one workgroup per dispatch)
                          for the host times; default 4, below 2 skips them
  --tfjs                  also time @tensorflow/tfjs-backend-webgpu's matMul on the same GPU
  --reps N                timed repetitions per measurement (default 20; matmul 10 from 8192;
                          train 10; on a CPU adapter 5 for matmul, 3 for attention and
                          layouts, 2 for train)
  --warmup N              untimed runs first (default 3; 1 on a CPU adapter)
  --trials N              batched timestamp measurements per size, median reported (default 3;
                          train on a CPU adapter 2)
  --help                  this text

Prints one JSON object per line on stdout: first the adapter, then one line per
measurement, then (with --tfjs) one "matmul-ratio" line per matmul size. BENCHMARKS.md
documents every field; bench/compare.ts joins these lines with bench/torch_bench.py's.`;

const FLAGS = {
  suite: { type: 'string' },
  sizes: { type: 'string' },
  quick: { type: 'boolean' },
  batch: { type: 'string' },
  presets: { type: 'string' },
  tfjs: { type: 'boolean' },
  reps: { type: 'string' },
  warmup: { type: 'string' },
  trials: { type: 'string' },
  as: { type: 'string' },
  'host-steps': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies FlagOptions;

const POSITIVE = { integer: true, min: 1 };
const COUNT = { integer: true, min: 0 };

/** A positive whole number, if the flag was given. */
function positive(flag: string, text: string | undefined): number | undefined {
  return text === undefined ? undefined : numberFlag(flag, text, POSITIVE);
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseFlags(argv, FLAGS);
  return {
    suite: values.suite === undefined ? undefined : choiceFlag('suite', values.suite, SUITES),
    sizes:
      values.sizes === undefined
        ? undefined
        : listFlag('sizes', values.sizes, (n) => numberFlag('sizes', n, POSITIVE)),
    quick: values.quick ?? false,
    tfjs: values.tfjs ?? false,
    batch: positive('batch', values.batch),
    presets:
      values.presets === undefined
        ? undefined
        : listFlag('presets', values.presets, (name) =>
            choiceFlag('presets', name, TRAINABLE_PRESETS),
          ),
    reps: positive('reps', values.reps),
    warmup: values.warmup === undefined ? undefined : numberFlag('warmup', values.warmup, COUNT),
    trials: positive('trials', values.trials),
    as: values.as === undefined ? 'h100' : choiceFlag('as', values.as, PROFILE_AS),
    hostSteps:
      values['host-steps'] === undefined
        ? undefined
        : numberFlag('host-steps', values['host-steps'], COUNT),
    help: values.help ?? false,
  };
}
