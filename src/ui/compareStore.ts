/**
 * Compare orderings: one click trains raster, spiral, checkerboard and random with identical
 * settings and seed, either one after the other (sequential) or taking turns every
 * `evalEvery` steps (interleaved: each turn resumes the ordering's run from its checkpoint
 * and steps it by hand, so the curves grow side by side). The worker trains one run at a time.
 *
 * The attention of all four runs is the comparison's own choice, not the settings panel's:
 * causal by default, because the paper's ordering ablation (Table 3b) was pre-trained
 * causally; prefix attention (AIM's recipe) on request.
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

/** How the four runs attend: causal (as the paper's Table 3b) or prefix-causal. */
export type CompareAttention = 'causal' | 'prefix';

export const COMPARE_ATTENTIONS: readonly CompareAttention[] = ['causal', 'prefix'];

/** The choice's name wherever a comparison is shown or exported. */
export const COMPARE_ATTENTION_LABELS: Record<CompareAttention, string> = {
  causal: 'as Table 3b (causal)',
  prefix: 'prefix',
};

/** What the choice does, in a sentence. */
export const COMPARE_ATTENTION_HELP: Record<CompareAttention, string> = {
  causal: 'causal attention (prefix length 1), as the paper pre-trained its ordering ablation',
  prefix: 'prefix-causal attention, prefix length S ~ U{1…K−1} (AIM’s pre-training recipe)',
};

/** The attention a run's settings used. */
export function attentionOf(settings: Pick<RunSettings, 'prefix'>): CompareAttention {
  return settings.prefix ? 'prefix' : 'causal';
}

/** The settings every run of a comparison trains with: the panel's, with the chosen attention. */
export function comparisonSettings(
  settings: RunSettings,
  attention: CompareAttention,
  ordering: Ordering,
): RunSettings {
  return { ...settings, ordering, prefix: attention === 'prefix' };
}

interface CompareState {
  mode: CompareMode;
  attention: CompareAttention;
  running: boolean;
  /** The comparison being run or last run in this tab. */
  id?: string;
  current?: Ordering;
  error?: SerializedError;
  setMode: (mode: CompareMode) => void;
  setAttention: (attention: CompareAttention) => void;
  start: (settings: RunSettings, dataset: DatasetChoice) => Promise<void>;
  stop: () => Promise<void>;
}

let cancelled = false;

function compareId(): string {
  return `cmp-${Date.now().toString(36)}`;
}

async function sequential(
  id: string,
  settings: RunSettings,
  attention: CompareAttention,
  dataset: DatasetChoice,
) {
  for (const ordering of ORDERINGS) {
    if (cancelled) return;
    useCompare.setState({ current: ordering });
    const runId = await startRun(comparisonSettings(settings, attention, ordering), dataset, {
      name: `compare · ${ordering}`,
      compare: { id, ordering },
      // A comparison's runs are not the Train view's run (issue 15, defect 6).
      activate: false,
    });
    if (!runId) throw new Error(`the ${ordering} run could not start`);
    await waitForEnd(runId);
  }
}

async function interleaved(
  id: string,
  settings: RunSettings,
  attention: CompareAttention,
  dataset: DatasetChoice,
) {
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
        const runId = await startRun(comparisonSettings(settings, attention, ordering), dataset, {
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
  attention: 'causal',
  running: false,
  setMode: (mode) => set({ mode }),
  setAttention: (attention) => set({ attention }),

  start: async (settings, dataset) => {
    if (get().running) return;
    cancelled = false;
    const id = compareId();
    set({ running: true, id, error: undefined });
    try {
      const { mode, attention } = get();
      if (mode === 'sequential') await sequential(id, settings, attention, dataset);
      else await interleaved(id, settings, attention, dataset);
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
