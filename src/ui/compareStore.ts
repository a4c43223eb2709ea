/**
 * Compare orderings: one click trains raster, spiral, checkerboard and random with identical
 * settings and seed, either one after the other (sequential) or taking turns every
 * `evalEvery` steps (interleaved: each turn resumes the ordering's run from its checkpoint
 * and steps it by hand, so the curves grow side by side). The worker trains one run at a time.
 */
import { create } from 'zustand';
import { ORDERINGS, type Ordering } from '../model/orderings';
import type { RunSettings } from '../training/settings';
import { workerApi } from '../worker/client';
import type { DatasetChoice } from '../worker/protocol';
import { serializeError, type SerializedError } from '../worker/protocol';
import { flushRunEvents, resumeFromCheckpoint, startRun, waitForEnd } from './runDriver';
import { useRuns } from './runsStore';

export type CompareMode = 'sequential' | 'interleaved';

interface CompareState {
  mode: CompareMode;
  running: boolean;
  /** The comparison being run or last run in this tab. */
  id?: string;
  current?: Ordering;
  error?: SerializedError;
  setMode: (mode: CompareMode) => void;
  start: (settings: RunSettings, dataset: DatasetChoice) => Promise<void>;
  stop: () => Promise<void>;
}

let cancelled = false;

function compareId(): string {
  return `cmp-${Date.now().toString(36)}`;
}

async function sequential(id: string, settings: RunSettings, dataset: DatasetChoice) {
  for (const ordering of ORDERINGS) {
    if (cancelled) return;
    useCompare.setState({ current: ordering });
    const runId = await startRun({ ...settings, ordering }, dataset, {
      name: `compare · ${ordering}`,
      compare: { id, ordering },
      // A comparison's runs are not the Train view's run (issue 15, defect 6).
      activate: false,
    });
    if (!runId) throw new Error(`the ${ordering} run could not start`);
    await waitForEnd(runId);
  }
}

async function interleaved(id: string, settings: RunSettings, dataset: DatasetChoice) {
  const ids = new Map<Ordering, string>();
  const segment = Math.max(1, settings.evalEvery);
  for (let done = 0; done < settings.steps && !cancelled; done += segment) {
    for (const ordering of ORDERINGS) {
      if (cancelled) return;
      useCompare.setState({ current: ordering });
      const existing = ids.get(ordering);
      if (existing) {
        if (!(await resumeFromCheckpoint(existing, { start: false, activate: false })))
          throw new Error(`the ${ordering} run could not be resumed from its checkpoint`);
      } else {
        const runId = await startRun({ ...settings, ordering }, dataset, {
          name: `compare · ${ordering}`,
          compare: { id, ordering },
          // A comparison's runs are not the Train view's run (issue 15, defect 6).
          activate: false,
          start: false,
        });
        if (!runId) throw new Error(`the ${ordering} run could not start`);
        ids.set(ordering, runId);
      }
      const runId = ids.get(ordering)!;
      const target = Math.min(settings.steps, done + segment);
      for (let step = done; step < target && !cancelled; step++) await workerApi().stepRun();
      flushRunEvents();
      const r = useRuns.getState().records[runId];
      if (r?.phase === 'failed') throw new Error(r.message ?? `the ${ordering} run failed`);
    }
  }
  // Each run's last segment ended in 'finished'; stop the one still held by the worker.
  await workerApi().stopRun();
}

export const useCompare = create<CompareState>((set, get) => ({
  mode: 'sequential',
  running: false,
  setMode: (mode) => set({ mode }),

  start: async (settings, dataset) => {
    if (get().running) return;
    cancelled = false;
    const id = compareId();
    set({ running: true, id, error: undefined });
    try {
      if (get().mode === 'sequential') await sequential(id, settings, dataset);
      else await interleaved(id, settings, dataset);
    } catch (error) {
      set({ error: serializeError(error) });
    } finally {
      set({ running: false, current: undefined });
    }
  },

  stop: async () => {
    cancelled = true;
    await workerApi().stopRun();
  },
}));
