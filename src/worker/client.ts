/** The page's handle on the training worker (started on first use, then kept). */
import type { PlaygroundWorkerApi } from './api';
import { lazyWorker } from './lazyWorker';

export { Comlink } from './lazyWorker';

export const trainingWorker = lazyWorker<PlaygroundWorkerApi>(
  () => new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'aim-worker' }),
);

export type WorkerApi = ReturnType<typeof trainingWorker.api>;

export const workerApi = trainingWorker.api;
