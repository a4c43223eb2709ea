/**
 * `npm run scale-out -- (--run <run.json> | --recipe aim-v1-600M) [--preset P] [--world-size N]
 * [--micro-batch N] [--data-train DIR --data-val DIR] [--checkpoint FILE] [--dtype D] --out DIR`:
 * writes an ml-l3m experiment (config.yaml, launch.sh, README.md, and checkpoint.pth with
 * --checkpoint) that continues a playground run or reproduces the AIM v1 recipe
 * (src/scaleout/bundle.ts). `--import FILE --config config.yaml --out DIR` goes the other way:
 * an ml-l3m checkpoint becomes DIR/checkpoint.safetensors + DIR/config.json for `npm run export`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS, type PresetName } from '../model/config';
import { openWeights } from '../onnx/checkpoint';
import { fileByteSource, type FileByteSource } from '../onnx/byteSource.node';
import { buildBundle, RECIPES, type RecipeName } from '../scaleout/bundle';
import { importL3mCheckpoint } from '../scaleout/importL3m';
import { decodeCheckpoint } from '../training/checkpoint';
import { defaultsFor, SETTING_KEYS, type RunSettings } from '../training/settings';
import { choiceFlag, numberFlag, parseFlags } from './flags.node';

const USAGE = `usage:
  npm run scale-out -- --run RUN.json [--checkpoint FILE] [options] --out DIR
  npm run scale-out -- --checkpoint FILE [options] --out DIR      (settings from the checkpoint)
  npm run scale-out -- --recipe aim-v1-600M [--preset aim-600M] [options] --out DIR
  npm run scale-out -- --import CHECKPOINT --config config.yaml --out DIR

  --run FILE          the run's settings: settings.json from npm run train, or a run record
                      ({"settings": …}) from the page
  --checkpoint FILE   the run's checkpoint (checkpoint.safetensors): its weights go into
                      DIR/checkpoint.pth in ml-l3m's state-dict layout
  --recipe R          ${RECIPES.join(', ')}: the paper's recipe as ml-l3m publishes it
  --preset P          the recipe's model (default aim-600M)
  --world-size N      GPUs in all (default: 1 for a run, 16 for the recipe = 4096 / 256)
  --micro-batch N     most images one GPU runs at once; more is gradient accumulation
  --data-train DIR    training images (ImageFolder layout; launch.sh can override)
  --data-val DIR      validation images
  --dtype D           bfloat16 (the recipe's, default) or float32
  --import FILE       an ml-l3m checkpoint (torch.save .pth, or .safetensors) to bring back
  --config FILE       the config.yaml it was trained with
  --out DIR           where the files go (required)`;

const FLAGS = {
  run: { type: 'string' },
  recipe: { type: 'string' },
  preset: { type: 'string' },
  'world-size': { type: 'string' },
  'micro-batch': { type: 'string' },
  'data-train': { type: 'string' },
  'data-val': { type: 'string' },
  checkpoint: { type: 'string' },
  dtype: { type: 'string' },
  import: { type: 'string' },
  config: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const positiveInt = { integer: true, min: 1 };

/** A run's settings from settings.json or a run record, defaults for settings it predates. */
export function runSettingsFrom(json: unknown, label: string): RunSettings {
  const obj = json as Record<string, unknown> | null;
  const raw = obj && typeof obj === 'object' && 'settings' in obj ? obj.settings : obj;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`${label}: not a run's settings (expected settings.json or {"settings": …})`);
  const r = raw as Record<string, unknown>;
  const preset = r.preset as PresetName;
  if (!(preset in PRESETS)) throw new Error(`${label}: unknown preset ${String(r.preset)}`);
  const settings = defaultsFor(preset) as unknown as Record<string, unknown>;
  for (const key of SETTING_KEYS) if (key in r) settings[key] = r[key];
  return settings as unknown as RunSettings;
}

function write(dir: string, files: Map<string, Uint8Array>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of files) {
    writeFileSync(join(dir, name), data);
    if (name.endsWith('.sh')) chmodSync(join(dir, name), 0o755);
  }
}

async function importBack(file: string, configPath: string, out: string): Promise<void> {
  const sources: FileByteSource[] = [await fileByteSource(file)];
  try {
    const opened = await openWeights(sources);
    const imported = await importL3mCheckpoint(opened.weights, readFileSync(configPath, 'utf8'));
    write(
      out,
      new Map([
        ['checkpoint.safetensors', imported.checkpoint],
        ['config.json', new TextEncoder().encode(JSON.stringify(imported.configJson, null, 2))],
      ]),
    );
    const c = imported.config;
    console.log(
      `scale-out: ${file} → ${out}/checkpoint.safetensors + config.json (AIM ${c.width}×${c.depth}, ${c.heads} heads, head ${c.head.kind ?? 'mlp'}${c.head.extraNormTerm ? ' with the x + LN1(x) term' : ''}); next: npm run export -- ${out} --out …`,
    );
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
}

async function main(): Promise<void> {
  const { values: a } = parseFlags(process.argv.slice(2), FLAGS);
  if (a.help) {
    console.log(USAGE);
    return;
  }
  if (!a.out) throw new Error('--out is required');
  if (a.import !== undefined) {
    if (!a.config) throw new Error('--import needs --config (the config.yaml it was trained with)');
    await importBack(a.import, a.config, a.out);
    return;
  }
  const worldSize =
    a['world-size'] !== undefined
      ? numberFlag('world-size', a['world-size'], positiveInt)
      : undefined;
  const microBatch =
    a['micro-batch'] !== undefined
      ? numberFlag('micro-batch', a['micro-batch'], positiveInt)
      : undefined;
  const dtype = choiceFlag('dtype', a.dtype ?? 'bfloat16', ['bfloat16', 'float32'] as const);
  let bundle;
  if (a.recipe !== undefined) {
    if (a.run || a.checkpoint) throw new Error('--recipe takes neither --run nor --checkpoint');
    const recipe = choiceFlag('recipe', a.recipe, RECIPES) as RecipeName;
    const preset = choiceFlag(
      'preset',
      a.preset ?? 'aim-600M',
      Object.keys(PRESETS) as PresetName[],
    );
    bundle = buildBundle({
      kind: 'recipe',
      recipe,
      preset,
      worldSize,
      dataTrain: a['data-train'],
      dataVal: a['data-val'],
    });
  } else {
    if (!a.run && !a.checkpoint) throw new Error('give --run, --checkpoint or --recipe');
    if (a.preset) throw new Error('--preset is for --recipe; a run has its own');
    const checkpoint = a.checkpoint ? new Uint8Array(readFileSync(a.checkpoint)) : undefined;
    let settings: RunSettings;
    if (a.run) {
      if (!existsSync(a.run)) throw new Error(`--run ${a.run}: no such file`);
      settings = runSettingsFrom(JSON.parse(readFileSync(a.run, 'utf8')) as unknown, a.run);
    } else {
      settings = runSettingsFrom(
        decodeCheckpoint(checkpoint!, a.checkpoint).runConfig,
        a.checkpoint!,
      );
    }
    bundle = buildBundle({
      kind: 'run',
      settings,
      checkpoint,
      options: {
        worldSize: worldSize ?? 1,
        microBatch,
        dataTrain: a['data-train'] ?? '/data/train',
        dataVal: a['data-val'] ?? '/data/val',
        dtype,
      },
    });
  }
  write(a.out, bundle.files);
  console.log(`scale-out: wrote ${[...bundle.files.keys()].join(', ')} to ${a.out}`);
  console.log(bundle.summary);
}

main().catch((error: unknown) => {
  console.error(`scale-out: ${(error as Error).message}`);
  if (!(error instanceof Error) || error.name === 'Error') console.error(USAGE.split('\n')[0]);
  process.exit(1);
});
