/**
 * Paper mode in the browser: a worker of its own (./paperWorker.ts) that runs one grid of a
 * paper table at a time (src/paper/runGrid.ts) on its own GPU device, and keeps the grid's
 * state and its cells' checkpoints in the browser's persistent storage (OPFS, else
 * IndexedDB) after every finished cell, so a grid interrupted by a reload or a lost device
 * resumes where it stopped. Progress reaches the page through a listener (a comlink proxy).
 */
import { openPersistentStore, type CheckpointStore } from '../training/checkpointStore';
import {
  gridComplete,
  resumeMismatch,
  runGrid,
  type GridProgress,
  type GridSpec,
  type GridState,
} from '../paper/runGrid';
import { DatasetRegistry } from './datasets';
import { serializeError, type DatasetChoice, type SerializedError } from './protocol';
import { WorkerGpu } from './workerGpu';

export type PaperGridEvent =
  | { type: 'progress'; progress: GridProgress }
  | { type: 'state'; state: GridState }
  | { type: 'building'; compiled: number; requested: number }
  | { type: 'finished'; state: GridState }
  | { type: 'stopped'; state: GridState }
  | { type: 'error'; error: SerializedError };

export type PaperGridListener = (event: PaperGridEvent) => void;

/** Where the saved grid lives in the persistent store (one grid: the page's current one). */
const STATE_KEY = 'paper/grid/state.json';
const checkpointKey = (variant: string) => `paper/grid/cells/${variant}.safetensors`;

export class PaperGridWorkerApi {
  private store: Promise<CheckpointStore> | undefined;
  private running: Promise<void> | undefined;
  private stopAsked = false;
  private readonly datasets = new DatasetRegistry(
    new URL(import.meta.env.BASE_URL, self.location.href).href,
  );

  constructor(private readonly gpu: WorkerGpu = new WorkerGpu()) {}

  private persistent(): Promise<CheckpointStore> {
    this.store ??= openPersistentStore();
    return this.store;
  }

  /** The grid saved in this browser (finished or not), if any. */
  async savedGrid(): Promise<GridState | undefined> {
    const bytes = await (await this.persistent()).get(STATE_KEY);
    return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as GridState) : undefined;
  }

  /** Forgets the saved grid and its checkpoints (the page's "New grid"). */
  async clearGrid(): Promise<void> {
    if (this.running) throw new Error('a grid is running: stop it first');
    const store = await this.persistent();
    for (const key of await store.list('paper/grid/')) await store.delete(key);
  }

  /**
   * Runs the grid `spec` on `dataset`, resuming the saved grid when it is the same grid
   * (else starting over). Returns when the grid has started; events arrive through `listener`.
   */
  async start(spec: GridSpec, dataset: DatasetChoice, listener: PaperGridListener): Promise<void> {
    if (this.running) throw new Error('a grid is already running');
    const store = await this.persistent();
    const saved = await this.savedGrid();
    const resume = saved && !resumeMismatch(saved, spec) ? saved : undefined;
    if (saved && !resume) await this.clearGrid();
    const ctx = await this.gpu.context();
    const data = await this.datasets.get(dataset);
    this.stopAsked = false;
    const encoder = new TextEncoder();
    const stopWatching = ctx.kernels.watchCompiles(({ compiled, requested }) =>
      listener({ type: 'building', compiled, requested }),
    );
    let last: GridState | undefined = resume;
    this.running = runGrid(ctx, data, spec, {
      resume,
      shouldStop: () => this.stopAsked,
      onProgress: (progress) => listener({ type: 'progress', progress }),
      store: {
        saveState: async (state) => {
          last = state;
          await store.put(STATE_KEY, encoder.encode(JSON.stringify(state)));
          listener({ type: 'state', state });
        },
        saveCheckpoint: (variant, bytes) => store.put(checkpointKey(variant), bytes),
        loadCheckpoint: (variant) => store.get(checkpointKey(variant)),
      },
    })
      .then((state) => {
        last = state;
        // (Not saved yet when no cell finished in this call: save what there is.)
        return store.put(STATE_KEY, encoder.encode(JSON.stringify(state))).then(() => {
          listener({ type: gridComplete(state) ? 'finished' : 'stopped', state });
        });
      })
      .catch((error: unknown) => {
        listener({ type: 'error', error: serializeError(error) });
        if (last) listener({ type: 'stopped', state: last });
      })
      .finally(() => {
        stopWatching();
        this.running = undefined;
      });
  }

  /** Stops the running grid after its current step; finished cells stay saved. */
  async stop(): Promise<void> {
    this.stopAsked = true;
    await this.running;
  }

  isRunning(): boolean {
    return this.running !== undefined;
  }
}
