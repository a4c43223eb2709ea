/** Command-line flags of the benchmark (`node .gpu/bench.mjs --help`). */

export interface BenchArgs {
  /** Square matmul sizes n (M = N = K = n); undefined means "pick from the adapter". */
  sizes?: number[];
  quick: boolean;
  tfjs: boolean;
  /** Timed repetitions per size; undefined means "pick from the size and adapter". */
  reps?: number;
  warmup?: number;
  /** How many batched timestamp measurements to take (their median is reported). */
  trials?: number;
  help: boolean;
}

export const QUICK_SIZES = [128, 256];
export const FULL_SIZES = [1024, 4096, 8192];

export const USAGE = `Usage: node .gpu/bench.mjs [options]   (or: npm run bench -- [options])

  --sizes 1024,4096,8192  square matmul sizes (M = N = K); default ${FULL_SIZES.join(',')}
                          on a GPU, ${QUICK_SIZES.join(',')} on a fallback (CPU) adapter
  --quick                 use ${QUICK_SIZES.join(',')} (the default on SwiftShader)
  --tfjs                  also time @tensorflow/tfjs-backend-webgpu's matMul on the same GPU
  --reps N                timed repetitions per size (default 20; 10 from 8192; 5 on a CPU adapter)
  --warmup N              untimed runs first (default 3; 1 on a CPU adapter)
  --trials N              batched timestamp measurements per size, median reported (default 3)
  --help                  this text

Prints one JSON object per line on stdout: first the adapter, then one line per
implementation and size, then (with --tfjs) one "matmul-ratio" line per size.`;

function positiveInt(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} needs a positive integer, got "${text ?? ''}"`);
  return value;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, tfjs: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--sizes': {
        const text = value() ?? '';
        args.sizes = text
          .split(',')
          .filter(Boolean)
          .map((s) => positiveInt('--sizes', s));
        if (args.sizes.length === 0)
          throw new Error('--sizes needs a comma-separated list, e.g. 1024,4096');
        break;
      }
      case '--quick':
        args.quick = true;
        break;
      case '--tfjs':
        args.tfjs = true;
        break;
      case '--reps':
        args.reps = positiveInt('--reps', value());
        break;
      case '--warmup':
        args.warmup = Number(value());
        if (!Number.isInteger(args.warmup) || args.warmup < 0)
          throw new Error('--warmup needs an integer ≥ 0');
        break;
      case '--trials':
        args.trials = positiveInt('--trials', value());
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new Error(`unknown option "${raw}"\n\n${USAGE}`);
    }
  }
  return args;
}
