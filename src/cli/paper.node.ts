/**
 * Paper mode, headless: `npm run paper -- --table 3b --preset aim-micro --steps 60 --batch 16
 * --out runs/3b`. Trains every cell of one of the paper's tables (3a–3f, 4a, 4b) with the same
 * data, seed and budget, probes each (linear and attentive), and writes the table beside the
 * paper's published numbers: `<out>/table.md`, `table.csv`, `table.json`. Progress is kept in
 * `<out>/state.json` (and each cell's checkpoint under `<out>/cells/`) after every finished
 * cell; running the same command again resumes with the cells not yet finished.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromFashionMnist } from '../data/dataset';
import { loadFashionMnist } from '../data/fashionMnist';
import { makeProceduralDataset } from '../data/procedural';
import { GpuContext } from '../gpu/context';
import { fileShaderSource } from '../gpu/shaderSource.node';
import { renderCsv, renderMarkdown, tableJson } from '../paper/render';
import {
  gridComplete,
  resumeMismatch,
  runGrid,
  type GridSpec,
  type GridState,
  type GridStore,
  validateGridSpec,
} from '../paper/runGrid';
import { PAPER_PRESETS, PAPER_TABLE_IDS, paperTable } from '../paper/tables';
import { choiceFlag, numberFlag, parseFlags, type FlagOptions } from './flags.node';

const DATASETS = ['fashion-mnist', 'procedural'] as const;

const FLAGS = {
  table: { type: 'string' },
  preset: { type: 'string' },
  steps: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  dataset: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-images': { type: 'string' },
  'probe-train': { type: 'string' },
  'probe-test': { type: 'string' },
  'probe-layers': { type: 'string' },
  'probe-epochs': { type: 'string' },
  'max-cells': { type: 'string' },
  fresh: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies FlagOptions;

const USAGE = `usage: npm run paper -- --table ${PAPER_TABLE_IDS.join('|')} --out DIR [flags]
  --table T            the paper's table: 3a targets, 3b orderings (causal), 3c crop scale,
                       3d prefix/causal × probing, 3e head, 3f trunk shape, 4a head width,
                       4b head depth
  --preset P           ${PAPER_PRESETS.join('|')} (default aim-micro)
  --steps N            optimizer steps per cell (default 60)
  --batch B            images per step (default 16)
  --seed S             one seed for every cell (default 0)
  --dataset D          ${DATASETS.join('|')} (default fashion-mnist, the embedded set)
  --eval-every N       validation (loss, per-chunk loss) every N steps and after the last
                       (default a sixth of the steps)
  --eval-images N      validation images per evaluation (default 256)
  --probe-train N      training images the probes learn from (default 512)
  --probe-test N       held-out images the probes are tested on (default 256)
  --probe-layers L     the last L trunk blocks the probes average (default a quarter of the trunk)
  --probe-epochs N     epochs of the probes' training (default the probe recipe's)
  --max-cells N        train at most N cells now, then stop; the same command resumes
  --fresh              start over, ignoring a grid saved in DIR
  --out DIR            where table.md, table.csv, table.json and state.json go (required)
  --help, -h           this text`;

interface CliOptions {
  spec: GridSpec;
  out: string;
  maxCells?: number;
  fresh: boolean;
  dataset: (typeof DATASETS)[number];
}

function parseCommandLine(argv: string[]): CliOptions | undefined {
  const { values } = parseFlags(argv, FLAGS);
  if (values.help) return undefined;
  if (!values.table) throw new Error('--table is required');
  if (!values.out) throw new Error('--out DIR is required');
  const table = choiceFlag('table', values.table, PAPER_TABLE_IDS);
  const whole = (flag: string, text: string | undefined, fallback: number, min = 1) =>
    text === undefined ? fallback : numberFlag(flag, text, { integer: true, min });
  const steps = whole('steps', values.steps, 60);
  const dataset = values.dataset ? choiceFlag('dataset', values.dataset, DATASETS) : DATASETS[0];
  const spec: GridSpec = {
    table,
    preset: values.preset ? choiceFlag('preset', values.preset, PAPER_PRESETS) : 'aim-micro',
    steps,
    batch: whole('batch', values.batch, 16),
    seed: whole('seed', values.seed, 0, 0),
    evalEvery: whole('eval-every', values['eval-every'], Math.max(1, Math.round(steps / 6))),
    evalImages: whole('eval-images', values['eval-images'], 256),
    probeTrainImages: whole('probe-train', values['probe-train'], 512),
    probeTestImages: whole('probe-test', values['probe-test'], 256),
    dataset,
  };
  if (values['probe-layers'] !== undefined)
    spec.probeLayers = whole('probe-layers', values['probe-layers'], 1);
  if (values['probe-epochs'] !== undefined)
    spec.probeEpochs = whole('probe-epochs', values['probe-epochs'], 1);
  return {
    spec,
    out: values.out,
    maxCells:
      values['max-cells'] === undefined ? undefined : whole('max-cells', values['max-cells'], 1),
    fresh: values.fresh ?? false,
    dataset,
  };
}

async function loadDataset(kind: CliOptions['dataset'], seed: number) {
  if (kind === 'procedural')
    return makeProceduralDataset({ trainCount: 2048, valCount: 512, size: 32, seed });
  const root = process.env.AIM_DATASET_DIR ?? 'public/datasets/fashion-mnist';
  return fromFashionMnist(
    await loadFashionMnist(async (name) => new Uint8Array(readFileSync(join(root, name)))),
  );
}

/** Writes `path` whole or not at all (a kill mid-write leaves the previous file). */
function writeAtomically(path: string, data: string | Uint8Array): void {
  writeFileSync(`${path}.partial`, data);
  renameSync(`${path}.partial`, path);
}

function writeTables(out: string, state: GridState): void {
  writeAtomically(join(out, 'table.md'), renderMarkdown(state));
  writeAtomically(join(out, 'table.csv'), renderCsv(state));
  writeAtomically(join(out, 'table.json'), JSON.stringify(tableJson(state), null, 2) + '\n');
}

function fileStore(out: string): GridStore {
  const cells = join(out, 'cells');
  return {
    async saveState(state) {
      writeAtomically(join(out, 'state.json'), JSON.stringify(state, null, 1));
      writeTables(out, state);
    },
    async saveCheckpoint(variant, bytes) {
      mkdirSync(cells, { recursive: true });
      writeAtomically(join(cells, `${variant}.safetensors`), bytes);
    },
    async loadCheckpoint(variant) {
      const path = join(cells, `${variant}.safetensors`);
      return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
    },
  };
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
  const { spec, out } = parsed;
  const problems = validateGridSpec(spec);
  if (problems.length) {
    console.error(`${problems.join('\n')}\n\n${USAGE}`);
    process.exit(64);
  }
  mkdirSync(out, { recursive: true });
  const statePath = join(out, 'state.json');
  let resume: GridState | undefined;
  if (existsSync(statePath) && !parsed.fresh) {
    resume = JSON.parse(readFileSync(statePath, 'utf8')) as GridState;
    const why = resumeMismatch(resume, spec);
    if (why) {
      console.error(
        `${statePath} holds another grid (${why}): use --fresh to start over, or another --out.`,
      );
      process.exit(65);
    }
    console.error(`resuming ${statePath}: ${resume.cells.length} cell(s) already finished`);
  }
  const table = paperTable(spec.table);
  const ctx = await GpuContext.create({ shaderSource: fileShaderSource() });
  const adapter = ctx.capabilities.adapter;
  console.error(
    `paper table ${spec.table} ${table.title}: ${table.variants.length} cells of ${spec.preset}, ` +
      `${spec.steps} steps of ${spec.batch}, seed ${spec.seed}, on ${adapter.description || adapter.vendor || 'unknown adapter'}`,
  );
  const dataset = await loadDataset(parsed.dataset, spec.seed);
  let lastLogged = 0;
  let lastPhase = '';
  const state = await runGrid(ctx, dataset, spec, {
    resume,
    store: fileStore(out),
    maxCells: parsed.maxCells,
    onProgress: (p) => {
      const now = Date.now();
      if (p.phase === 'done' && p.result) {
        const r = p.result;
        console.error(
          `cell ${p.cell + 1}/${p.cells} ${p.variant}: linear ${r.linear.toFixed(1)}% attentive ${r.attentive.toFixed(1)}% ` +
            `val loss ${r.valLoss.toFixed(4)} (train ${r.trainSeconds.toFixed(0)} s, probes ${r.probeSeconds.toFixed(0)} s)`,
        );
      } else if (p.phase !== lastPhase || now - lastLogged > 10_000 || p.step === p.steps) {
        lastLogged = now;
        lastPhase = p.phase;
        const where = p.step !== undefined ? ` step ${p.step}/${p.steps}` : '';
        const loss = p.trainLoss !== undefined ? ` train ${p.trainLoss.toFixed(4)}` : '';
        const what = p.message ? `: ${p.message}` : '';
        console.error(
          `cell ${p.cell + 1}/${p.cells} ${p.variant}: ${p.phase}${where}${loss}${what}`,
        );
      }
    },
  });
  writeTables(out, state);
  const complete = gridComplete(state);
  console.error(
    complete
      ? `wrote ${join(out, 'table.md')}, table.csv and table.json`
      : `stopped with ${state.cells.length} of ${table.variants.length} cells; run the same command to resume`,
  );
  process.exit(0);
}

void main().catch((error: unknown) => {
  console.error((error as Error).message ?? String(error));
  process.exit(1);
});
