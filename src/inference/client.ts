/** The page's handle on the inference worker (created on first use, then kept). */
import * as Comlink from 'comlink';
import type { InferenceWorkerApi } from './api';

export type InferenceApi = Comlink.Remote<InferenceWorkerApi>;

let api: InferenceApi | undefined;

export function inferenceApi(): InferenceApi {
  if (!api) {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), {
      type: 'module',
      name: 'aim-inference',
    });
    api = Comlink.wrap<InferenceWorkerApi>(worker);
  }
  return api;
}

export { Comlink };
