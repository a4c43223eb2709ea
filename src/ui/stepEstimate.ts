/**
 * How long a run of these settings will take on this adapter, said before Train is pressed
 * (issue 15, defect 8). The work of a step comes from the shape (src/model/stepCost.ts); the
 * speed, per adapter and remembered in this browser, from the best source there is:
 * 1. a run of the same model and batch on this adapter — its measured median step time;
 * 2. any run on this adapter — its achieved FLOPs per millisecond, scaled to these settings;
 * 3. a quick measurement (a second of matrix products in the worker, on first use) times a
 *    step-efficiency factor — rough, and said to be.
 */
import { create } from 'zustand';
import type { GpuCapabilities } from '../gpu/capabilities';
import { trainingStepFlops } from '../model/stepCost';
import type { GpuRate } from '../training/gpuRate';
import { modelConfigFor, type RunSettings } from '../training/settings';
import { usePlayground } from './store';
import type { RunRecord } from './runRecords';

/**
 * A whole training step achieves less than one large matrix product: many small dispatches,
 * attention, normalisations. Measured on this project's CPU adapter (SwiftShader via Dawn for
 * Node, 2 cores, 2026-12-07): an aim-micro batch-4 step ran at 0.31 of `measureGpuRate`'s rate
 * (median of 4 steps against the product, both under the same load). On GPUs, where the
 * per-dispatch overhead weighs more, it is likely lower — which is why this source is "rough".
 */
export const STEP_EFFICIENCY = 0.3;
/** Steps at the start of a run left out of its median (pipeline warm-up, first readbacks). */
const WARM_UP_STEPS = 2;
const STORAGE_KEY = 'aim-playground.gpu-rate.v1';

export function adapterKey(caps: GpuCapabilities): string {
  const { vendor, architecture, device, description, isFallbackAdapter } = caps.adapter;
  return [vendor, architecture, device, description, isFallbackAdapter ? 'fallback' : '']
    .map((s) => s ?? '')
    .join('|');
}

export function currentAdapterKey(): string | undefined {
  const caps = usePlayground.getState().capabilities;
  return caps ? adapterKey(caps) : undefined;
}

/** The measured rates, per adapter key. */
type StoredRates = Record<string, GpuRate & { at: number }>;

function readStored(): StoredRates {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
    return parsed && typeof parsed === 'object' ? (parsed as StoredRates) : {};
  } catch {
    return {};
  }
}

interface RateState {
  rates: StoredRates;
  /** Adapter keys being measured now (at most one measurement per key and page). */
  measuring: string[];
  problem?: string;
  remember: (key: string, rate: GpuRate) => void;
  setMeasuring: (key: string, on: boolean) => void;
  setProblem: (problem?: string) => void;
}

export const useGpuRates = create<RateState>((set, get) => ({
  rates: readStored(),
  measuring: [],
  remember: (key, rate) => {
    const rates = { ...get().rates, [key]: { ...rate, at: Date.now() } };
    set({ rates });
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(rates));
    } catch {
      // Storage full or blocked: the estimate still holds for this page.
    }
  },
  setMeasuring: (key, on) =>
    set({ measuring: on ? [...get().measuring, key] : get().measuring.filter((k) => k !== key) }),
  setProblem: (problem) => set({ problem }),
}));

export interface StepEstimate {
  msPerStep: number;
  totalMs: number;
  source: 'same-run' | 'other-run' | 'measurement';
  /** The run the figure comes from (sources 1 and 2). */
  runName?: string;
}

export function stepFlopsOf(s: RunSettings): number {
  return trainingStepFlops(modelConfigFor(s), s.batch, { prefix: s.prefix }).total;
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** A run's median step time after its warm-up steps; undefined when it has too few. */
export function measuredStepMs(r: Pick<RunRecord, 'metrics'>): number | undefined {
  const times = r.metrics
    .slice(WARM_UP_STEPS)
    .map((m) => m.stepMs)
    .filter((ms) => Number.isFinite(ms) && ms > 0);
  return times.length >= 2 ? median(times) : undefined;
}

/** Same model, batch and attention: the step does the same work. */
function sameWork(a: RunSettings, b: RunSettings): boolean {
  return stepFlopsOf(a) === stepFlopsOf(b) && a.preset === b.preset;
}

export function estimateRun(
  settings: RunSettings,
  key: string | undefined,
  runs: readonly RunRecord[],
  rate: GpuRate | undefined,
): StepEstimate | undefined {
  if (!key) return undefined;
  const flops = stepFlopsOf(settings);
  const mine = runs
    .filter((r) => r.adapter === key && measuredStepMs(r) !== undefined)
    .sort((a, b) => b.createdAt - a.createdAt);
  const total = (msPerStep: number) => msPerStep * settings.steps;
  const same = mine.find((r) => sameWork(r.settings, settings));
  if (same) {
    const ms = measuredStepMs(same)!;
    return { msPerStep: ms, totalMs: total(ms), source: 'same-run', runName: same.name };
  }
  if (mine.length) {
    const r = mine[0];
    const ms = (flops * measuredStepMs(r)!) / stepFlopsOf(r.settings);
    return { msPerStep: ms, totalMs: total(ms), source: 'other-run', runName: r.name };
  }
  if (rate) {
    const ms = flops / (rate.flopsPerMs * STEP_EFFICIENCY);
    return { msPerStep: ms, totalMs: total(ms), source: 'measurement' };
  }
  return undefined;
}
