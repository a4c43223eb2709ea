/**
 * The Paper tab's state: the grid asked for (table, preset, budget, seed, data), the grid as
 * the paper-mode worker reports it (finished cells, the current cell's progress), and the
 * actions. The grid itself is saved by the worker in the browser's persistent storage after
 * every cell; on load the page asks for it, so a grid stopped by a reload shows its finished
 * cells and resumes with one click where it stopped.
 */
import { create } from 'zustand';
import type { GridProgress, GridSpec, GridState } from '../paper/runGrid';
import { PROBE_RECIPE } from '../probe/recipe';
import { paperTable, type PaperPreset, type PaperTableId } from '../paper/tables';
import { Comlink, paperApi } from '../worker/paperClient';
import type { PaperGridEvent } from '../worker/paperGrid';
import { serializeError, type SerializedError } from '../worker/protocol';

export type PaperDataset = 'fashion-mnist' | 'procedural';

export interface PaperForm {
  table: PaperTableId;
  preset: PaperPreset;
  steps: number;
  batch: number;
  seed: number;
  dataset: PaperDataset;
  probeTrainImages: number;
  probeTestImages: number;
  probeEpochs: number;
}

export type PaperStatus = 'idle' | 'loading' | 'running' | 'stopping' | 'stopped' | 'finished';

interface PaperStore {
  form: PaperForm;
  status: PaperStatus;
  /** The saved or running grid. */
  grid?: GridState;
  progress?: GridProgress;
  building?: { compiled: number; requested: number };
  error?: SerializedError;
  setForm: (patch: Partial<PaperForm>) => void;
  /** Reads the grid saved in this browser, if any (once, when the tab opens). */
  load: () => Promise<void>;
  /** Runs the form's grid (resuming the saved one when it is the same grid). */
  start: () => Promise<void>;
  /** Resumes the saved grid with its own settings. */
  resume: () => Promise<void>;
  stop: () => Promise<void>;
  /** Forgets the saved grid. */
  clear: () => Promise<void>;
}

const DEFAULT_FORM: PaperForm = {
  table: '3b',
  preset: 'aim-micro',
  steps: 60,
  batch: 16,
  seed: 0,
  dataset: 'fashion-mnist',
  probeTrainImages: 512,
  probeTestImages: 256,
  probeEpochs: PROBE_RECIPE.epochs,
};

/** The grid a form asks for (the same evaluation cadence as `npm run paper`). */
export function specOf(form: PaperForm): GridSpec {
  return {
    table: form.table,
    preset: form.preset,
    steps: form.steps,
    batch: form.batch,
    seed: form.seed,
    evalEvery: Math.max(1, Math.round(form.steps / 6)),
    evalImages: 256,
    probeTrainImages: form.probeTrainImages,
    probeTestImages: form.probeTestImages,
    // (The recipe's own epochs leave the field out, as the CLI does without --probe-epochs.)
    ...(form.probeEpochs === PROBE_RECIPE.epochs ? {} : { probeEpochs: form.probeEpochs }),
    dataset: form.dataset,
  };
}

function formOf(spec: GridSpec): PaperForm {
  return {
    table: spec.table,
    preset: spec.preset,
    steps: spec.steps,
    batch: spec.batch,
    seed: spec.seed,
    dataset: spec.dataset === 'procedural' ? 'procedural' : 'fashion-mnist',
    probeTrainImages: spec.probeTrainImages,
    probeTestImages: spec.probeTestImages,
    probeEpochs: spec.probeEpochs ?? PROBE_RECIPE.epochs,
  };
}

export const usePaper = create<PaperStore>((set, get) => {
  const onEvent = (event: PaperGridEvent) => {
    switch (event.type) {
      case 'progress':
        set({ progress: event.progress, building: undefined });
        break;
      case 'building':
        set({ building: { compiled: event.compiled, requested: event.requested } });
        break;
      case 'state':
        set({ grid: event.state });
        break;
      case 'finished':
        set({ grid: event.state, status: 'finished', progress: undefined });
        break;
      case 'stopped':
        set({ grid: event.state, status: 'stopped', progress: undefined });
        break;
      case 'error':
        set({ error: event.error, status: 'stopped', progress: undefined });
        break;
    }
  };
  const run = async (spec: GridSpec, dataset: PaperDataset) => {
    set({ status: 'running', error: undefined, progress: undefined });
    try {
      await paperApi().start(spec, { kind: dataset }, Comlink.proxy(onEvent));
    } catch (error) {
      set({ status: 'stopped', error: serializeError(error) });
    }
  };
  return {
    form: DEFAULT_FORM,
    status: 'idle',
    setForm: (patch) => set({ form: { ...get().form, ...patch } }),
    load: async () => {
      if (get().status !== 'idle') return;
      set({ status: 'loading' });
      try {
        const api = paperApi();
        const [grid, running] = await Promise.all([api.savedGrid(), api.isRunning()]);
        if (!grid) return set({ status: 'idle' });
        const complete = paperTable(grid.spec.table).variants.every((v) =>
          grid.cells.some((c) => c.variant === v.id),
        );
        set({
          grid,
          form: formOf(grid.spec),
          status: running ? 'running' : complete ? 'finished' : 'stopped',
        });
      } catch (error) {
        set({ status: 'idle', error: serializeError(error) });
      }
    },
    start: () => run(specOf(get().form), get().form.dataset),
    resume: async () => {
      const grid = get().grid;
      if (!grid) return;
      set({ form: formOf(grid.spec) });
      await run(grid.spec, formOf(grid.spec).dataset);
    },
    stop: async () => {
      set({ status: 'stopping' });
      await paperApi().stop();
    },
    clear: async () => {
      await paperApi().clearGrid();
      set({ grid: undefined, status: 'idle', progress: undefined, error: undefined });
    },
  };
});
