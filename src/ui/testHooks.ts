/**
 * `window.__aimPlayground`: a small handle for the end-to-end tests (and curious users in
 * the console) to run kernels in the worker or on the page and get raw results back, so a
 * test can check them against a reference it computes itself.
 */
import { runSeededMatmul, type MatmulCheckRequest } from '../diagnostics/matmulCheck';
import { inferenceApi, type InferenceApi } from '../inference/client';
import { workerApi } from '../worker/client';
import { installRunTestHooks } from './runTestHooks';
import { pageGpu } from './pageGpu';

export interface PlaygroundDebugHandle {
  seededMatmul: (
    where: 'worker' | 'page',
    req: MatmulCheckRequest,
  ) => Promise<{ c: number[]; ms: number }>;
  loseWorkerDevice: () => Promise<void>;
  kernelCaseNames: () => Promise<string[]>;
  runKernelCaseInWorker: (name: string) => Promise<Record<string, number[]>>;
}

declare global {
  interface Window {
    __aimPlayground?: PlaygroundDebugHandle;
    /** The inference worker's API (src/inference/api.ts), for scripts and tests. */
    __aimInference?: InferenceApi;
  }
}

export function installTestHooks(): void {
  installRunTestHooks();
  // A getter: the inference worker starts only when someone uses it.
  Object.defineProperty(window, '__aimInference', { get: inferenceApi, configurable: true });
  window.__aimPlayground = {
    seededMatmul: async (where, req) => {
      if (where === 'worker') {
        const { c, ms } = await workerApi().runSeededMatmul(req);
        return { c: Array.from(c), ms };
      }
      const { c, ms } = await runSeededMatmul(await pageGpu(), req);
      return { c: Array.from(c), ms };
    },
    loseWorkerDevice: () => workerApi().loseDevice(),
    kernelCaseNames: () => workerApi().kernelCaseNames(),
    runKernelCaseInWorker: (name) => workerApi().runKernelCase(name),
  };
}
