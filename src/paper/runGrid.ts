/**
 * Paper mode's grid: every cell of one paper table trained with the same data, seed and
 * budget (the Trainer, as `npm run train` and the page's worker use it), evaluated (the final
 * validation loss and, every `evalEvery` steps, the per-chunk loss of the paper's Figure 7),
 * and probed (linear and attentive, on the frozen trunk). The grid's state is plain JSON,
 * handed to the caller's store after every finished cell, so a grid stopped by a reload, a
 * lost device or a killed process resumes with the cells it has not finished.
 *
 * Cells that pre-train alike (Table 3d probes one pre-training two ways) share one training:
 * its checkpoint is kept in the store and the later cell only probes.
 */
import type { ImageDataset } from '../data/dataset';
import type { GpuContext } from '../gpu/context';
import { decodeCheckpoint } from '../training/checkpoint';
import {
  defaultsFor,
  modelConfigFor,
  SETTINGS_SCHEMA,
  submitsNextAfter,
  validateSettings,
  type RunSettings,
} from '../training/settings';
import { Trainer } from '../training/trainer';
import { defaultProbeLayers, probeCell } from './probeCells';
import {
  paperTable,
  type PaperPreset,
  type PaperTable,
  type PaperTableId,
  type PaperVariant,
} from './tables';

/** What a grid is: the same for every cell, and checked again when a grid resumes. */
export interface GridSpec {
  table: PaperTableId;
  preset: PaperPreset;
  steps: number;
  batch: number;
  seed: number;
  /** Evaluations (validation loss, per-chunk loss) every this many steps, and after the last. */
  evalEvery: number;
  evalImages: number;
  /** Images the probes train on and are tested on. */
  probeTrainImages: number;
  probeTestImages: number;
  /** The last L trunk blocks the probes read (undefined: a quarter of each cell's trunk). */
  probeLayers?: number;
  /** Epochs of the probes' training (undefined: PROBE_RECIPE's). */
  probeEpochs?: number;
  /** Which images: the dataset's name, so a grid does not resume on other data. */
  dataset: string;
}

export interface CurvePoint {
  step: number;
  valLoss: number;
  chunkLoss: number[];
}

export interface CellResult {
  variant: string;
  /** Held-out top-1 (%) of the probes. */
  linear: number;
  attentive: number;
  /** The probes' top-1 (%) on their own training images. */
  linearTrain: number;
  attentiveTrain: number;
  /** The validation loss after the last step (causal, every target counted). */
  valLoss: number;
  trainLoss: number;
  /** The per-chunk validation loss after the last step (Figure 7). */
  chunkLoss: number[];
  /** Every evaluation of the training. */
  curve: CurvePoint[];
  probeCausal: boolean;
  probeLayers: number;
  /** The settings the cell pre-trained with. */
  settings: RunSettings;
  /** The cell whose pre-training this cell reused, if not its own. */
  sharedTrainingWith?: string;
  trainSeconds: number;
  probeSeconds: number;
  probeRecipe: unknown;
}

export interface GridState {
  version: 1;
  spec: GridSpec;
  /** The finished cells, in the table's order of variants. */
  cells: CellResult[];
}

/** Where a grid keeps its progress: the state after every cell, and trained checkpoints. */
export interface GridStore {
  saveState(state: GridState): Promise<void>;
  saveCheckpoint(variant: string, bytes: Uint8Array): Promise<void>;
  loadCheckpoint(variant: string): Promise<Uint8Array | undefined>;
}

export type GridPhase = 'training' | 'evaluating' | 'probing' | 'done';

export interface GridProgress {
  cell: number;
  cells: number;
  variant: string;
  phase: GridPhase;
  step?: number;
  steps?: number;
  trainLoss?: number;
  /** A finished cell's result (phase 'done'). */
  result?: CellResult;
  message?: string;
}

export interface RunGridOptions {
  /** A grid state to resume (its finished cells are not trained again). */
  resume?: GridState;
  store: GridStore;
  onProgress?: (p: GridProgress) => void;
  /** Train at most this many cells in this call, then return (the grid resumes later). */
  maxCells?: number;
  /** Asked between steps: true stops the grid after saving what is finished. */
  shouldStop?: () => boolean;
}

/** Problems with a grid's specification, as sentences; empty when it can run. */
export function validateGridSpec(spec: GridSpec): string[] {
  const problems: string[] = [];
  const table = paperTable(spec.table);
  for (const variant of table.variants) {
    for (const p of validateSettings(cellSettings(spec, table, variant)))
      problems.push(`${variant.label}: ${p}`);
  }
  for (const [name, n] of [
    ['evalEvery', spec.evalEvery],
    ['evalImages', spec.evalImages],
    ['probeTrainImages', spec.probeTrainImages],
    ['probeTestImages', spec.probeTestImages],
  ] as const) {
    if (!Number.isInteger(n) || n < 1) problems.push(`${name} must be a positive whole number.`);
  }
  for (const [what, n] of [
    ['probe layers', spec.probeLayers],
    ['probe epochs', spec.probeEpochs],
  ] as const) {
    if (n !== undefined && (!Number.isInteger(n) || n < 1))
      problems.push(`The ${what} must be a positive whole number.`);
  }
  if (spec.probeLayers !== undefined) {
    const depth = Math.min(
      ...table.variants.map((v) => modelConfigFor(cellSettings(spec, table, v)).depth),
    );
    if (spec.probeLayers > depth)
      problems.push(
        `The probe layers (${spec.probeLayers}) must be at most the trunk's depth (${depth}).`,
      );
  }
  return [...new Set(problems)];
}

/**
 * The settings a cell pre-trains with: the preset's defaults (the paper's recipe where the
 * playground has it), the grid's budget, the table's common settings and the variant's own.
 * A setting the table needs that this build does not have is an error, not silently dropped.
 */
export function cellSettings(
  spec: GridSpec,
  table: PaperTable,
  variant: PaperVariant,
): RunSettings {
  const s: Record<string, unknown> = {
    ...defaultsFor(spec.preset),
    steps: spec.steps,
    batch: spec.batch,
    seed: spec.seed,
    evalEvery: spec.evalEvery,
    evalImages: spec.evalImages,
    checkpointEvery: 0,
  };
  for (const [key, value] of Object.entries({
    ...table.common,
    ...variant.settings(spec.preset),
  })) {
    if (!(key in SETTINGS_SCHEMA))
      throw new RangeError(
        `Table ${table.id} needs the run setting "${key}", which this build does not have.`,
      );
    s[key] = value;
  }
  return s as RunSettings;
}

/** Whether two cells pre-train alike (then the later one only probes). */
function sameTraining(a: RunSettings, b: RunSettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function newGridState(spec: GridSpec): GridState {
  return { version: 1, spec, cells: [] };
}

/** Why a saved state cannot resume `spec`, or undefined when it can. */
export function resumeMismatch(state: GridState, spec: GridSpec): string | undefined {
  if (state.version !== 1) return `it is a grid state of version ${String(state.version)}`;
  const keys = new Set([...Object.keys(spec), ...Object.keys(state.spec)]) as Set<keyof GridSpec>;
  for (const key of keys) {
    if (state.spec[key] !== spec[key])
      return `it was run with ${key} ${String(state.spec[key])}, not ${String(spec[key])}`;
  }
  return undefined;
}

/**
 * Trains, evaluates and probes every cell not yet in `opts.resume`, in the table's order,
 * saving the state after each. Returns the state (complete when every variant has a cell).
 */
export async function runGrid(
  ctx: GpuContext,
  dataset: ImageDataset,
  spec: GridSpec,
  opts: RunGridOptions,
): Promise<GridState> {
  const problems = validateGridSpec(spec);
  if (problems.length) throw new RangeError(problems.join(' '));
  const table = paperTable(spec.table);
  const state: GridState = opts.resume
    ? { ...opts.resume, cells: [...opts.resume.cells] }
    : newGridState(spec);
  if (opts.resume) {
    const why = resumeMismatch(opts.resume, spec);
    if (why) throw new RangeError(`This grid cannot resume the saved one: ${why}.`);
  }
  let trained = 0;
  for (const [index, variant] of table.variants.entries()) {
    if (state.cells.some((c) => c.variant === variant.id)) continue;
    if (opts.maxCells !== undefined && trained >= opts.maxCells) break;
    if (opts.shouldStop?.()) break;
    const result = await runCell(ctx, dataset, spec, table, variant, index, state, opts);
    if (!result) break; // stopped mid-cell: nothing of it is kept
    state.cells.push(result);
    await opts.store.saveState(state);
    trained++;
    opts.onProgress?.({
      cell: index,
      cells: table.variants.length,
      variant: variant.id,
      phase: 'done',
      result,
    });
  }
  return state;
}

/** Whether every variant of the state's table has a finished cell. */
export function gridComplete(state: GridState): boolean {
  return paperTable(state.spec.table).variants.every((v) =>
    state.cells.some((c) => c.variant === v.id),
  );
}

async function runCell(
  ctx: GpuContext,
  dataset: ImageDataset,
  spec: GridSpec,
  table: PaperTable,
  variant: PaperVariant,
  index: number,
  state: GridState,
  opts: RunGridOptions,
): Promise<CellResult | undefined> {
  const settings = cellSettings(spec, table, variant);
  const config = modelConfigFor(settings);
  const progress = (p: Omit<GridProgress, 'cell' | 'cells' | 'variant'>) =>
    opts.onProgress?.({ cell: index, cells: table.variants.length, variant: variant.id, ...p });
  const shared = state.cells.find((c) => sameTraining(c.settings, settings));
  const sharedBytes = shared ? await opts.store.loadCheckpoint(shared.variant) : undefined;

  let training: Pick<CellResult, 'valLoss' | 'trainLoss' | 'chunkLoss' | 'curve' | 'trainSeconds'>;
  let params: Map<string, Float32Array>;
  if (shared && sharedBytes) {
    const { valLoss, trainLoss, chunkLoss, curve } = shared;
    training = { valLoss, trainLoss, chunkLoss, curve, trainSeconds: 0 };
    params = new Map([...decodeCheckpoint(sharedBytes).params].map(([k, t]) => [k, t.data]));
  } else {
    const started = performance.now();
    const trainer = await Trainer.create(ctx, settings, dataset);
    try {
      const curve: CurvePoint[] = [];
      let trainLoss = NaN;
      while (!trainer.done) {
        if (opts.shouldStop?.()) return undefined;
        const m = await trainer.trainStep({
          submitNext: submitsNextAfter(settings, trainer.step + 1),
        });
        trainLoss = m.trainLoss;
        progress({ phase: 'training', step: m.step, steps: settings.steps, trainLoss });
        if (m.step % settings.evalEvery === 0 || trainer.done) {
          progress({ phase: 'evaluating', step: m.step, steps: settings.steps });
          const e = await trainer.evaluate();
          curve.push({ step: e.step, valLoss: e.valLoss, chunkLoss: e.chunkLoss });
        }
      }
      const last = curve[curve.length - 1];
      training = {
        valLoss: last.valLoss,
        chunkLoss: last.chunkLoss,
        curve,
        trainLoss,
        trainSeconds: (performance.now() - started) / 1000,
      };
      // Kept for later cells of the same pre-training (3d) and for a grid that resumes.
      await opts.store.saveCheckpoint(variant.id, await trainer.checkpoint());
      params = await trainer.model.downloadParameters();
    } finally {
      trainer.destroy();
    }
  }

  if (opts.shouldStop?.()) return undefined;
  progress({ phase: 'probing', message: `probing ${variant.label}` });
  const probeStarted = performance.now();
  const layers = spec.probeLayers ?? defaultProbeLayers(config.depth);
  const probes = await probeCell(ctx, {
    config,
    params,
    dataset,
    causal: variant.probeCausal,
    layers,
    trainImages: spec.probeTrainImages,
    heldOutImages: spec.probeTestImages,
    seed: spec.seed,
    epochs: spec.probeEpochs,
    onProgress: (message) => progress({ phase: 'probing', message }),
  });
  return {
    variant: variant.id,
    linear: probes.linear,
    attentive: probes.attentive,
    linearTrain: probes.linearTrain,
    attentiveTrain: probes.attentiveTrain,
    ...training,
    probeCausal: variant.probeCausal,
    probeLayers: layers,
    settings,
    ...(shared && sharedBytes ? { sharedTrainingWith: shared.variant } : {}),
    probeSeconds: (performance.now() - probeStarted) / 1000,
    probeRecipe: probes.recipe,
  };
}
