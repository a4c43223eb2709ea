/** The page's handle on the inference worker (started on first use, then kept). */
import { lazyWorker } from '../worker/lazyWorker';
import type { InferenceWorkerApi } from './api';

export { Comlink } from '../worker/lazyWorker';

export const inferenceWorker = lazyWorker<InferenceWorkerApi>(
  () =>
    new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'aim-inference' }),
);

export type InferenceApi = ReturnType<typeof inferenceWorker.api>;

export const inferenceApi = inferenceWorker.api;
