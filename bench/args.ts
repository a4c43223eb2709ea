/** Command-line flags of the benchmark (`node .gpu/bench.mjs --help`). */

export const SUITES = ['matmul', 'attention', 'layouts', 'all', 'ci'] as const;
export type Suite = (typeof SUITES)[number];

export interface BenchArgs {
  /** Which measurements; undefined means "all" on a GPU, "matmul" on a fallback (CPU) adapter. */
  suite?: Suite;
  /** Square matmul sizes n (M = N = K = n); undefined means "pick from the adapter". */
  sizes?: number[];
  quick: boolean;
  tfjs: boolean;
  /** Batch of the attention and layouts suites; undefined means 256 (quick: 4 and 1). */
  batch?: number;
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

  --suite NAME            what to measure (default: all on a GPU, matmul on a CPU adapter):
                            matmul     square f32 matmuls (and tfjs's with --tfjs)
                            attention  fused prefix-causal attention fwd / bwd / fwd+bwd,
                                       B=256, T 64 and 256, D=384 with dh 32 (H=12) and 64 (H=6)
                            layouts    matmul transposes and epilogues at AIM-tiny/-small
                                       training shapes (batch 256: 16384 token rows)
                            all        the three above
                            ci         tiny sizes for CI logs on SwiftShader (matmul 128³,
                                       attention B=4 T=64 H=6 dh=32, 2 reps, 2 trials);
                                       not a performance figure
  --sizes 1024,4096,8192  square matmul sizes (M = N = K); default ${FULL_SIZES.join(',')}
                          on a GPU, ${QUICK_SIZES.join(',')} on a fallback (CPU) adapter
  --quick                 small sizes everywhere (the default on SwiftShader): matmul
                          ${QUICK_SIZES.join(',')}; attention batch 4, T = 64 only; layouts
                          one AIM-tiny image (64 token rows)
  --batch N               batch of the attention and layouts suites (default 256)
  --tfjs                  also time @tensorflow/tfjs-backend-webgpu's matMul on the same GPU
  --reps N                timed repetitions per measurement (default 20; matmul 10 from 8192;
                          on a CPU adapter 5 for matmul, 3 for attention and layouts)
  --warmup N              untimed runs first (default 3; 1 on a CPU adapter)
  --trials N              batched timestamp measurements per size, median reported (default 3)
  --help                  this text

Prints one JSON object per line on stdout: first the adapter, then one line per
measurement, then (with --tfjs) one "matmul-ratio" line per matmul size. BENCHMARKS.md
documents every field; bench/compare.ts joins these lines with bench/torch_bench.py's.`;

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
      case '--suite': {
        const name = value() ?? '';
        if (!(SUITES as readonly string[]).includes(name))
          throw new Error(`--suite needs one of ${SUITES.join(', ')}, got "${name}"`);
        args.suite = name as Suite;
        break;
      }
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
      case '--batch':
        args.batch = positiveInt('--batch', value());
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
