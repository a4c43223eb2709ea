/**
 * `npm run export -- <checkpoint-dir> --format fp32|fp16|int4 --out <dir>`: an AIM checkpoint
 * (ml-aim's config.json plus pytorch_model.bin, a *_backbone.pth + *_head_*.pth pair, or
 * *.safetensors) → <out>/model.onnx + <out>/model.onnx.data_0… (see src/onnx/export.ts).
 *
 * `--random aim-7B` (or any ml-aim config.json) exports seeded random weights of those shapes
 * instead (src/onnx/randomWeights.ts): how a GPU machine gets a 7B model to time without the
 * 26 GB download. The summary ends with the process's peak RSS, the exporter's own memory
 * claim (one tensor at a time) made checkable.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileByteSource, type FileByteSource } from '../onnx/byteSource.node';
import {
  chooseWeightFiles,
  openWeights,
  parseAimConfig,
  type AimOnnxConfig,
  type WeightSource,
} from '../onnx/checkpoint';
import { exportAimOnnx, WEIGHT_FORMATS, type FeatureMode, type WeightFormat } from '../onnx/export';
import { directorySink } from '../onnx/fileSink.node';
import {
  isPaperPreset,
  PAPER_PRESETS,
  randomAimCheckpoint,
  type PaperPreset,
} from '../onnx/randomWeights';
import { SETTINGS_SCHEMA } from '../training/settingsSchema';
import { FILE_BYTES_FORMAT, formatBytes } from '../util/format';
import { choiceFlag, numberFlag, parseFlags, type FlagOptions } from './flags.node';

const USAGE = `usage: npm run export -- <checkpoint-dir> --format fp32|fp16|int4 --out <dir>
       npm run export -- --random aim-7B --format int4 --out <dir> [--seed N]
  <checkpoint-dir>   config.json + pytorch_model.bin | *_backbone.pth + *_head_*.pth | *.safetensors
  --random P         instead of a checkpoint: seeded random weights with the shapes of
                     ${PAPER_PRESETS.join(' | ')} (224 px, patch 14, best probe layers,
                     1000 classes) or of an ml-aim config.json file
  --seed N           the random weights' seed (default 0; same seed, same bytes)
  --format F         fp32 (default), fp16 (weights stored fp16, computed f32), int4 (MatMulNBits)
  --out DIR          where model.onnx and model.onnx.data_N go (required)
  --head NAME        which *_head_NAME*.pth when there are several (e.g. best, last)
  --weights F[,F]    use these files of the directory instead of choosing by name
  --shard-mb N       external-data shard limit in MiB (default 1024, below 2048)
  --features MODE    probe-layers | post-trunk-norm (default: probe-layers when the config
                     names probe_layers or the checkpoint has a probe head)`;

/** External-data shards: ONNX's protobuf offsets limit one file to below 2 GiB. */
const SHARD_MB = { integer: false, min: 0, minExclusive: true, max: 2048, maxExclusive: true };

interface Args {
  dir: string;
  random?: string;
  seed: number;
  format: WeightFormat;
  out: string;
  head?: string;
  weights?: string[];
  shardBytes?: number;
  features?: FeatureMode;
}

const FEATURE_MODES: readonly FeatureMode[] = ['probe-layers', 'post-trunk-norm'];

const FLAGS = {
  format: { type: 'string' },
  out: { type: 'string' },
  head: { type: 'string' },
  random: { type: 'string' },
  seed: { type: 'string' },
  weights: { type: 'string' },
  'shard-mb': { type: 'string' },
  features: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies FlagOptions;

/** The export's options; undefined for --help. */
function parseCommandLine(argv: string[]): Args | undefined {
  const { values, positionals } = parseFlags(argv, FLAGS, { positionals: true });
  if (values.help) return undefined;
  if (positionals.length > 1) throw new Error(`unexpected argument ${positionals[1]}`);
  const dir = positionals[0] ?? '';
  const format = values.format ? choiceFlag('format', values.format, WEIGHT_FORMATS) : 'fp32';
  const out = values.out ?? '';
  const seed =
    values.seed === undefined ? undefined : numberFlag('seed', values.seed, SETTINGS_SCHEMA.seed);
  const args: Partial<Args> = {
    head: values.head,
    random: values.random,
    weights: values.weights?.split(','),
    features: values.features ? choiceFlag('features', values.features, FEATURE_MODES) : undefined,
  };
  if (values['shard-mb'] !== undefined) {
    const mb = numberFlag('shard-mb', values['shard-mb'], SHARD_MB);
    args.shardBytes = Math.floor(mb * 1024 * 1024);
  }
  if (args.random !== undefined) {
    if (dir || args.head || args.weights)
      throw new Error('--random replaces the checkpoint directory (and --head, --weights)');
  } else if (!dir) throw new Error('the checkpoint directory or --random is required');
  if (seed !== undefined && args.random === undefined)
    throw new Error('--seed only applies to --random');
  if (!out) throw new Error('--out is required');
  return { ...args, dir, format, out, seed: seed ?? 0 };
}

/** `--random P`: a paper preset by name, else an ml-aim config.json file. */
function randomSpec(value: string): PaperPreset | AimOnnxConfig {
  if (isPaperPreset(value)) return value;
  if (existsSync(value) && statSync(value).isFile())
    return parseAimConfig(JSON.parse(readFileSync(value, 'utf8')) as unknown);
  throw new Error(`--random ${value}: use ${PAPER_PRESETS.join(', ')} or a config.json file`);
}

interface Opened {
  config: AimOnnxConfig;
  weights: WeightSource;
  /** What the weights are, for the first line. */
  label: string;
  close: () => Promise<void>;
}

async function openCheckpoint(args: Args): Promise<Opened> {
  if (args.random !== undefined) {
    const { config, weights } = randomAimCheckpoint(randomSpec(args.random), args.seed);
    return {
      config,
      weights,
      label: `random weights, ${args.random}, seed ${args.seed}`,
      close: () => Promise.resolve(),
    };
  }
  if (!existsSync(args.dir) || !statSync(args.dir).isDirectory()) {
    throw new Error(`${args.dir} is not a directory`);
  }
  const names = args.weights ?? chooseWeightFiles(readdirSync(args.dir), args.head);
  const sources: FileByteSource[] = [];
  const close = async () => {
    await Promise.all(sources.map((s) => s.close()));
  };
  try {
    for (const name of names) sources.push(await fileByteSource(join(args.dir, name)));
    const opened = await openWeights(sources);
    const configPath = join(args.dir, 'config.json');
    const rawConfig = existsSync(configPath)
      ? (JSON.parse(readFileSync(configPath, 'utf8')) as unknown)
      : opened.embeddedConfig;
    if (rawConfig === undefined) {
      throw new Error(
        `no config.json in ${args.dir} and no model_config in the safetensors metadata`,
      );
    }
    return {
      config: parseAimConfig(rawConfig),
      weights: opened.weights,
      label: `${opened.layout} (${names.join(' + ')})`,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function main(): Promise<void> {
  let parsed: Args | undefined;
  try {
    parsed = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    console.error(`export: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (!parsed) {
    console.log(USAGE);
    process.exit(0);
  }
  const args = parsed;
  const opened = await openCheckpoint(args);
  try {
    const { config, weights } = opened;
    console.log(`export: ${opened.label}, ${weights.names.length} tensors`);
    const started = Date.now();
    let lastReport = 0;
    const result = await exportAimOnnx({ config, weights }, await directorySink(args.out), {
      format: args.format,
      maxShardBytes: args.shardBytes,
      features: args.features,
      onTensor: (name, done, total) => {
        if (Date.now() - lastReport > 2000 || done === total) {
          lastReport = Date.now();
          console.log(`  ${done}/${total} ${name}`);
        }
      },
    });
    console.log(
      `export: ${result.format}, ${result.blocks} of ${config.numBlocks} blocks, features = ${result.featureMode}` +
        `, outputs ${result.outputs.join(', ')} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    let total = 0;
    for (const f of result.files) {
      total += f.bytes;
      console.log(`  ${join(args.out, f.name)}  ${formatBytes(f.bytes, FILE_BYTES_FORMAT)}`);
    }
    console.log(`  total ${formatBytes(total, FILE_BYTES_FORMAT)}`);
    // maxRSS is in KiB: the high-water mark of the whole process, reading and writing included.
    console.log(
      `  peak RSS ${formatBytes(process.resourceUsage().maxRSS * 1024, FILE_BYTES_FORMAT)}`,
    );
  } finally {
    await opened.close();
  }
}

main().catch((error: unknown) => {
  console.error(`export: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
