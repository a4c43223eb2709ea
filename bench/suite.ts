/** What every benchmark suite receives from bench/main.ts, and small shared helpers. */
import type { GpuContext } from '../src/gpu/context';
import type { BenchArgs } from './args';
import type { RunPlan } from './timing';

export interface SuiteEnv {
  ctx: GpuContext;
  /** The adapter's display name, repeated on every result line. */
  adapter: string;
  /** The adapter is a fallback (CPU) one, e.g. SwiftShader. */
  fallback: boolean;
  /** Small shapes: `--quick`, or a fallback adapter. */
  quick: boolean;
  args: BenchArgs;
}

/** The repetition plan: command-line values where given, else the suite's defaults. */
export function planFrom(args: BenchArgs, defaults: RunPlan): RunPlan {
  return {
    reps: args.reps ?? defaults.reps,
    warmup: args.warmup ?? defaults.warmup,
    trials: args.trials ?? defaults.trials,
  };
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
