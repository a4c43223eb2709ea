/**
 * Headless training: `npm run train -- --preset aim-micro --ordering raster --steps 500
 * --batch 64 --out runs/x`. The same Trainer as the playground's worker, in Node through Dawn.
 * Writes `<out>/metrics.jsonl` (one JSON object per logged step: step, trainLoss, lr,
 * imgPerSec, gradNorm, stepMs; on evaluation steps also valLoss and chunkLoss) and
 * `<out>/checkpoint.safetensors` (plus `<out>/settings.json`).
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadFashionMnist } from '../data/fashionMnist';
import { fromFashionMnist } from '../data/dataset';
import { makeProceduralDataset } from '../data/procedural';
import { GpuContext } from '../gpu/context';
import { fileShaderSource } from '../gpu/shaderSource.node';
import { PRESETS, type PresetName } from '../model/config';
import { ORDERINGS, type Ordering } from '../model/orderings';
import { DEFAULT_SETTINGS, validateSettings, type RunSettings } from '../training/settings';
import { NonFiniteError, Trainer } from '../training/trainer';

const USAGE = `usage: npm run train -- [flags]
  --preset ${Object.keys(PRESETS).join('|')}   (default ${DEFAULT_SETTINGS.preset})
  --ordering ${ORDERINGS.join('|')}
  --steps N  --batch N  --lr X  --warmup FRACTION  --weight-decay X  --clip X
  --causal            prefix off: the causal baseline (S = 1)
  --crop-scale X      lower bound of the random-resized-crop area (default 0.4)
  --color-jitter      ColorJitter(0.4, 0.4, 0.2, 0.1) with p 0.8
  --head-depth N  --head-extra-norm
  --seed N  --eval-every N  --eval-images N  --chunks N  --checkpoint-every N
  --dataset fashion-mnist|procedural   (default fashion-mnist, the embedded set)
  --resume FILE       continue from a checkpoint
  --log-every N       metrics lines every N steps (default 1)
  --out DIR           where metrics.jsonl and checkpoint.safetensors go (required)`;

interface CliOptions {
  settings: RunSettings;
  out: string;
  dataset: 'fashion-mnist' | 'procedural';
  resume?: string;
  logEvery: number;
}

function parseArgs(argv: string[]): CliOptions {
  const s: RunSettings = { ...DEFAULT_SETTINGS };
  let out = '';
  let dataset: CliOptions['dataset'] = 'fashion-mnist';
  let resume: string | undefined;
  let logEvery = 1;
  let headDepthGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = () => {
      const v = Number(value());
      if (!Number.isFinite(v)) throw new Error(`${flag} needs a number`);
      return v;
    };
    switch (flag) {
      case '--preset':
        s.preset = value() as PresetName;
        break;
      case '--ordering':
        s.ordering = value() as Ordering;
        break;
      case '--steps':
        s.steps = num();
        break;
      case '--batch':
        s.batch = num();
        break;
      case '--lr':
        s.lr = num();
        break;
      case '--warmup':
        s.warmupFraction = num();
        break;
      case '--weight-decay':
        s.weightDecay = num();
        break;
      case '--clip':
        s.clipNorm = num();
        break;
      case '--causal':
        s.prefix = false;
        break;
      case '--crop-scale':
        s.cropScaleMin = num();
        break;
      case '--color-jitter':
        s.colorJitter = true;
        break;
      case '--head-depth':
        s.headDepth = num();
        headDepthGiven = true;
        break;
      case '--head-extra-norm':
        s.headExtraNormTerm = true;
        break;
      case '--seed':
        s.seed = num();
        break;
      case '--eval-every':
        s.evalEvery = num();
        break;
      case '--eval-images':
        s.evalImages = num();
        break;
      case '--chunks':
        s.chunks = num();
        break;
      case '--checkpoint-every':
        s.checkpointEvery = num();
        break;
      case '--dataset': {
        const d = value();
        if (d !== 'fashion-mnist' && d !== 'procedural') throw new Error(`unknown dataset ${d}`);
        dataset = d;
        break;
      }
      case '--resume':
        resume = value();
        break;
      case '--log-every':
        logEvery = num();
        break;
      case '--out':
        out = value();
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (!headDepthGiven && s.preset in PRESETS) s.headDepth = PRESETS[s.preset].head.depth;
  if (!out) throw new Error('--out DIR is required');
  const problems = validateSettings(s);
  if (problems.length) throw new Error(problems.join('\n'));
  return { settings: s, out, dataset, resume, logEvery };
}

async function loadDataset(kind: CliOptions['dataset'], seed: number) {
  if (kind === 'procedural')
    return makeProceduralDataset({ trainCount: 2000, valCount: 500, size: 32, seed });
  const root = process.env.AIM_DATASET_DIR ?? 'public/datasets/fashion-mnist';
  return fromFashionMnist(
    await loadFashionMnist(async (name) => new Uint8Array(readFileSync(join(root, name)))),
  );
}

async function main() {
  let opts: CliOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(64);
  }
  const { settings, out } = opts;
  mkdirSync(out, { recursive: true });
  const metricsPath = join(out, 'metrics.jsonl');
  writeFileSync(metricsPath, '');
  writeFileSync(join(out, 'settings.json'), JSON.stringify(settings, null, 2));
  const ctx = await GpuContext.create({ shaderSource: fileShaderSource() });
  const dataset = await loadDataset(opts.dataset, settings.seed);
  const trainer = await Trainer.create(ctx, settings, dataset, {
    checkpoint: opts.resume ? new Uint8Array(readFileSync(opts.resume)) : undefined,
  });
  const adapter = ctx.capabilities.adapter;
  console.error(
    `training ${settings.preset} (${trainer.model.specs.length} tensors, ${(trainer.model.bytes / 2 ** 20).toFixed(0)} MiB on the GPU) ` +
      `on ${adapter.description || adapter.vendor || 'unknown adapter'}; ${settings.steps} steps of ${settings.batch}, ${settings.ordering} order`,
  );
  const saveCheckpoint = async () =>
    writeFileSync(join(out, 'checkpoint.safetensors'), await trainer.checkpoint());
  try {
    while (!trainer.done) {
      const m = await trainer.trainStep();
      const evalNow = m.step % settings.evalEvery === 0 || trainer.done;
      const line: Record<string, unknown> = { ...m };
      if (evalNow) Object.assign(line, await trainer.evaluate());
      if (evalNow || m.step % opts.logEvery === 0)
        appendFileSync(metricsPath, JSON.stringify(line) + '\n');
      if (evalNow)
        console.error(
          `step ${m.step}: train ${m.trainLoss.toFixed(4)} val ${(line.valLoss as number).toFixed(4)}`,
        );
      if (settings.checkpointEvery > 0 && m.step % settings.checkpointEvery === 0)
        await saveCheckpoint();
    }
    await saveCheckpoint();
  } catch (error) {
    if (error instanceof NonFiniteError) {
      appendFileSync(
        metricsPath,
        JSON.stringify({ step: error.step, error: error.message }) + '\n',
      );
      console.error(error.message);
      process.exit(3);
    }
    throw error;
  } finally {
    trainer.destroy();
  }
  console.error(`wrote ${metricsPath} and ${join(out, 'checkpoint.safetensors')}`);
  process.exit(0);
}

void main();
