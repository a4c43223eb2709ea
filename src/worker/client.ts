/** The page's handle on the worker: one worker, wrapped by comlink. */
import * as Comlink from 'comlink';
import type { PlaygroundWorkerApi } from './api';

export type WorkerApi = Comlink.Remote<PlaygroundWorkerApi>;

let api: WorkerApi | undefined;

export function workerApi(): WorkerApi {
  if (!api) {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), {
      type: 'module',
      name: 'aim-worker',
    });
    api = Comlink.wrap<PlaygroundWorkerApi>(worker);
  }
  return api;
}

export { Comlink };
