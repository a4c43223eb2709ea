/**
 * Test handles for training runs in the worker (used by e2e/training.spec.ts): start a run
 * with any settings, collect its events in the page, and drive it — the same worker API the
 * UI uses, without clicking through it.
 */
import { Comlink, workerApi } from '../worker/client';
import type { DatasetChoice } from '../worker/datasets';
import type { RunEvent } from '../worker/trainingSession';
import { DEFAULT_SETTINGS, type RunSettings } from '../training/settings';
import type { RunInfo } from '../worker/api';

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

declare global {
  interface Window {
    __aimRuns?: RunTestHandle;
  }
}

export function installRunTestHooks(): void {
  const events: RunEvent[] = [];
  const listener = Comlink.proxy((event: RunEvent) => {
    events.push(event);
  });
  window.__aimRuns = {
    events,
    start: (runId, settings, dataset, opts) =>
      workerApi().startRun(runId, { ...DEFAULT_SETTINGS, ...settings }, dataset, listener, opts),
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
