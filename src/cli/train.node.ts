/**
 * Headless training: `npm run train -- --preset aim-micro --ordering raster --steps 500
 * --batch 64 --out runs/x`. The same Trainer as the playground's worker, in Node through Dawn.
 * Writes `<out>/metrics.jsonl` (one JSON object per logged step: step, trainLoss, lr,
 * imgPerSec, gradNorm, stepMs; on evaluation steps also valLoss, chunkLoss and positionLoss; with
 * --probe-every N, on probe steps also `probe`: the linear and attentive probes' top-1, the
 * paper's Figure 4, src/paper/figure4Probe.ts) and
 * `<out>/checkpoint.safetensors` (plus `<out>/settings.json`).
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadFashionMnist } from '../data/fashionMnist';
import { fromFashionMnist } from '../data/dataset';
import { makeProceduralDataset } from '../data/procedural';
import { GpuContext } from '../gpu/context';
import { fileShaderSource } from '../gpu/shaderSource.node';
import type { PresetName } from '../model/config';
import {
  afterStep,
  DEFAULT_SETTINGS,
  defaultsFor,
  rangeText,
  SETTING_KEYS,
  settingNoun,
  submitsNextAfter,
  SETTINGS_SCHEMA,
  validateSettings,
  type RunSettings,
  type SettingKey,
} from '../training/settings';
import { settingSpec } from '../training/settingsSchema';
import { NonFiniteError, Trainer } from '../training/trainer';
import { RunProber } from '../paper/figure4Probe';
import { choiceFlag, numberFlag, parseFlags, type FlagOptions } from './flags.node';

const DATASETS = ['fashion-mnist', 'procedural'] as const;

/** The flags that are not run settings. */
const OTHER_FLAGS = {
  dataset: { type: 'string' },
  resume: { type: 'string' },
  'log-every': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies FlagOptions;

/** One flag per run setting, from the settings' schema. */
const SETTING_FLAGS: FlagOptions = Object.fromEntries(
  SETTING_KEYS.map((key) => {
    const spec = SETTINGS_SCHEMA[key];
    return [spec.flag, { type: spec.kind === 'boolean' ? 'boolean' : 'string' }];
  }),
);

/** `text` wrapped to lines of at most `width` characters after a `indent`-space margin. */
function wrap(text: string, indent: number, width = 96): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

const FLAG_COLUMN = 24;

function usageLine(flag: string, text: string): string {
  const left = `  ${flag}`;
  const pad =
    left.length < FLAG_COLUMN ? left.padEnd(FLAG_COLUMN) : `${left}\n${' '.repeat(FLAG_COLUMN)}`;
  return pad + wrap(text, FLAG_COLUMN);
}

const onOff = (v: boolean) => (v ? 'on' : 'off');

/** The usage line of one run setting: its flag, what it does, its values and default. */
function settingUsage(key: SettingKey): string {
  const spec = settingSpec(key);
  const paper =
    spec.paper === undefined
      ? ''
      : `; paper ${typeof spec.paper === 'boolean' ? onOff(spec.paper) : String(spec.paper)}`;
  switch (spec.kind) {
    case 'choice':
      return usageLine(
        `--${spec.flag} ${spec.choices.join('|')}`,
        `${spec.help} (default ${spec.default}${paper})`,
      );
    case 'boolean':
      return usageLine(
        `--${spec.flag}`,
        `${settingNoun(key)} ${onOff(spec.flagSets)} (default ${onOff(spec.default)}${paper}): ${spec.help}`,
      );
    case 'number': {
      // (A bound that depends on the preset is shown for the default preset.)
      const preset = DEFAULT_SETTINGS.preset;
      const range =
        rangeText(spec, preset) + (typeof spec.max === 'function' ? ` for ${preset}` : '');
      const fallback = spec.presetDefault ? 'the preset’s' : String(spec.default);
      return usageLine(
        `--${spec.flag} ${spec.integer ? 'N' : 'X'}`,
        `${spec.help} ${range[0].toUpperCase()}${range.slice(1)}${spec.units ? ` (${spec.units})` : ''}; default ${fallback}${paper}.`,
      );
    }
  }
}

const USAGE = [
  'usage: npm run train -- [flags]',
  ...SETTING_KEYS.map(settingUsage),
  usageLine(
    `--dataset ${DATASETS.join('|')}`,
    `the training images (default ${DATASETS[0]}, the embedded set)`,
  ),
  usageLine('--resume FILE', 'continue from a checkpoint'),
  usageLine('--log-every N', 'metrics lines every N steps (default 1)'),
  usageLine('--out DIR', 'where metrics.jsonl and checkpoint.safetensors go (required)'),
  usageLine('--help, -h', 'this text'),
].join('\n');

interface CliOptions {
  settings: RunSettings;
  out: string;
  dataset: (typeof DATASETS)[number];
  resume?: string;
  logEvery: number;
}

/** The run's settings and the CLI's options; undefined for --help. */
function parseCommandLine(argv: string[]): CliOptions | undefined {
  const { values } = parseFlags(argv, { ...SETTING_FLAGS, ...OTHER_FLAGS });
  if (values.help) return undefined;
  const given = values as Record<string, string | boolean | undefined>;
  // The preset first: the settings that follow it (the head depth) take its values.
  const preset = given[SETTINGS_SCHEMA.preset.flag];
  const known = (SETTINGS_SCHEMA.preset.choices as readonly unknown[]).includes(preset);
  const s: Record<string, unknown> = known
    ? defaultsFor(preset as PresetName)
    : { ...DEFAULT_SETTINGS, preset: preset ?? DEFAULT_SETTINGS.preset };
  for (const key of SETTING_KEYS) {
    const spec = SETTINGS_SCHEMA[key];
    const value = given[spec.flag];
    if (key === 'preset' || value === undefined) continue;
    if (spec.kind === 'boolean') s[key] = spec.flagSets;
    else if (spec.kind === 'number') s[key] = numberFlag(spec.flag, String(value));
    else s[key] = value; // (an unknown choice is named by validateSettings)
  }
  const settings = s as RunSettings;
  const problems = validateSettings(settings);
  if (problems.length) throw new Error(problems.join('\n'));
  if (!values.out) throw new Error('--out DIR is required');
  return {
    settings,
    out: values.out,
    dataset: values.dataset ? choiceFlag('dataset', values.dataset, DATASETS) : DATASETS[0],
    resume: values.resume,
    logEvery: values['log-every']
      ? numberFlag('log-every', values['log-every'], { integer: true, min: 1 })
      : 1,
  };
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
  let parsed: CliOptions | undefined;
  try {
    parsed = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(64);
  }
  if (!parsed) {
    console.log(USAGE);
    process.exit(0);
  }
  const opts = parsed;
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
  let prober: RunProber | undefined;
  try {
    prober =
      settings.probeEvery > 0
        ? new RunProber({
            ctx,
            config: trainer.config,
            settings,
            dataset,
            downloadParameters: () => trainer.model.downloadParameters(),
          })
        : undefined;
  } catch (error) {
    console.error((error as Error).message);
    process.exit(64);
  }
  const adapter = ctx.capabilities.adapter;
  console.error(
    `training ${settings.preset} (${trainer.model.specs.length} tensors, ${(trainer.model.bytes / 2 ** 20).toFixed(0)} MiB on the GPU) ` +
      `on ${adapter.description || adapter.vendor || 'unknown adapter'}; ${settings.steps} steps of ${settings.batch}, ${settings.ordering} order, ` +
      // Named on every run: the paper's ordering ablation (Table 3b) is the causal one.
      `${settings.prefix ? 'prefix' : 'causal'} attention`,
  );
  let savedStep = -1;
  const saveCheckpoint = async () => {
    writeFileSync(join(out, 'checkpoint.safetensors'), await trainer.checkpoint());
    savedStep = trainer.step;
  };
  try {
    while (!trainer.done) {
      // The next step is queued before this one's results are read, where nothing between
      // them reads the state: the GPU never waits for the host (Trainer's header).
      const m = await trainer.trainStep({
        submitNext: submitsNextAfter(settings, trainer.step + 1),
      });
      const next = afterStep(settings, m.step, trainer.done);
      const line: Record<string, unknown> = { ...m };
      if (next.evaluate) Object.assign(line, await trainer.evaluate());
      if (next.probe && prober) line.probe = await prober.probe(m.step, line.valLoss as number);
      if (next.evaluate || m.step % opts.logEvery === 0)
        appendFileSync(metricsPath, JSON.stringify(line) + '\n');
      if (next.evaluate)
        console.error(
          `step ${m.step}: train ${m.trainLoss.toFixed(4)} val ${(line.valLoss as number).toFixed(4)}` +
            (line.probe
              ? ` probes linear ${(line.probe as { linear: number }).linear.toFixed(1)} % attentive ${(line.probe as { attentive: number }).attentive.toFixed(1)} %`
              : ''),
        );
      if (next.checkpoint) await saveCheckpoint();
    }
    // (A run resumed from a checkpoint of its last step takes no step: save it all the same.)
    if (savedStep !== trainer.step) await saveCheckpoint();
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
