/**
 * Handles for the end-to-end tests, installed by src/main.tsx in the test build only
 * (`vite build --mode test`; the production build has none of this):
 * - `window.__aimPlayground`: kernels in the worker (through its diagnostics endpoint) or on
 *   the page, raw results back, so a test checks them against a reference it computes itself;
 *   a forced device loss;
 * - `window.__aimRuns`: training runs driven through the same worker API the UI uses;
 * - `window.__aimInference`: the inference worker's diagnostics (raw batch outputs, a
 *   pretended storage quota).
 * It also adds the page to the GPU tab's self-test, beside the worker.
 */
import { inferenceWorker } from '../inference/client';
import { addSelfTestTarget } from '../ui/store';
import { DEFAULT_SETTINGS, defaultsFor, type RunSettings } from '../training/settings';
import { Comlink, trainingWorker, workerApi } from '../worker/client';
import type { DatasetChoice, RunEvent, RunInfo } from '../worker/protocol';
import { openDiagnosticsChannel } from './channel';
import { installConvertHooks } from './convertHooks';
import type { InferenceDiagnosticsApi } from './inferenceDiagnostics';
import { checkMatmul, seededMatmul } from './matmulCheck';
import { pageGpu } from './pageGpu';
import type { MatmulCheckRequest } from './selfTestShapes';
import type { TrainingDiagnosticsApi } from './trainingDiagnostics';

export interface PlaygroundDebugHandle {
  seededMatmul: (
    where: 'worker' | 'page',
    req: MatmulCheckRequest,
  ) => Promise<{ c: number[]; ms: number }>;
  loseWorkerDevice: () => Promise<void>;
  kernelCaseNames: () => Promise<string[]>;
  runKernelCaseInWorker: (name: string) => Promise<Record<string, number[]>>;
}

export interface RunTestHandle {
  events: RunEvent[];
  start: (
    runId: string,
    settings: Partial<RunSettings>,
    dataset: DatasetChoice,
    opts?: { resume?: boolean; start?: boolean },
  ) => Promise<RunInfo>;
  pause: () => Promise<void>;
  resume: () => Promise<void>;
  stop: () => Promise<void>;
  step: () => Promise<void>;
  status: () => Promise<{ runId: string; phase: string; step: number } | undefined>;
  savedRuns: () => Promise<string[]>;
  predictions: (
    count: number,
  ) => Promise<{ original: number[]; predicted: number[]; size: number }[]>;
}

type InferenceDiagnostics = Comlink.Remote<InferenceDiagnosticsApi>;

declare global {
  interface Window {
    __aimPlayground?: PlaygroundDebugHandle;
    __aimRuns?: RunTestHandle;
    /** The inference worker's diagnostics API (./inferenceDiagnostics.ts). */
    __aimInference?: InferenceDiagnostics;
  }
}

/** Opens a worker's diagnostics endpoint on first use, as the workers themselves start. */
function lazily<T>(open: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= open());
}

const trainingDiagnostics = lazily(() =>
  openDiagnosticsChannel<TrainingDiagnosticsApi>(trainingWorker.worker()),
);
const inferenceDiagnostics = lazily(() =>
  openDiagnosticsChannel<InferenceDiagnosticsApi>(inferenceWorker.worker()),
);

export function installTestHooks(): void {
  addSelfTestTarget('page', async (req) => checkMatmul(await pageGpu(), req));
  installPlaygroundHandle();
  installRunHandle();
  installConvertHooks();
  // A getter: the inference worker starts only when someone uses it.
  Object.defineProperty(window, '__aimInference', {
    get: inferenceDiagnostics,
    configurable: true,
  });
}

function installPlaygroundHandle(): void {
  window.__aimPlayground = {
    seededMatmul: async (where, req) => {
      const { c, ms } =
        where === 'worker'
          ? await trainingDiagnostics().runSeededMatmul(req)
          : await seededMatmul(await pageGpu(), req);
      return { c: Array.from(c), ms };
    },
    loseWorkerDevice: () => trainingDiagnostics().loseDevice(),
    kernelCaseNames: () => trainingDiagnostics().kernelCaseNames(),
    runKernelCaseInWorker: (name) => trainingDiagnostics().runKernelCase(name),
  };
}

function installRunHandle(): void {
  const events: RunEvent[] = [];
  const listener = Comlink.proxy((event: RunEvent) => {
    events.push(event);
  });
  window.__aimRuns = {
    events,
    start: (runId, settings, dataset, opts) =>
      // The chosen preset's own shape (trunk and head) unless the test sets it.
      workerApi().startRun(
        runId,
        { ...defaultsFor(settings.preset ?? DEFAULT_SETTINGS.preset), ...settings },
        dataset,
        listener,
        opts,
      ),
    pause: () => workerApi().pauseRun(),
    resume: () => workerApi().resumeRun(),
    stop: () => workerApi().stopRun(),
    step: () => workerApi().stepRun(),
    status: () => workerApi().runStatus(),
    savedRuns: () => workerApi().savedRuns(),
    predictions: async (count) =>
      (await workerApi().runPredictions(count)).map((p) => ({
        original: Array.from(p.original),
        predicted: Array.from(p.predicted),
        size: p.size,
      })),
  };
}
