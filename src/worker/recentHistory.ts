/**
 * The metrics of the last checkpoint intervals, stored beside the checkpoint. The page keeps a
 * run's history and persists it when a 'checkpoint' event reaches it — but the worker writes
 * the checkpoint first, so a tab closed (or a page too busy to handle the event) in between
 * would resume from a checkpoint whose last steps the page never recorded: a gap in every
 * chart. The resumed run hands these back (RunInfo.recent) and the page fills the gap.
 *
 * Bounded: what is kept goes back to the checkpoint before the previous one (two intervals),
 * which covers any page that saw at least every other checkpoint event.
 */
import { isProbePoint, type ProbePoint } from '../paper/figure4Points';
import type { EvalMetrics, StepMetrics } from '../training/trainer';

export interface RecentHistory {
  metrics: StepMetrics[];
  evals: EvalMetrics[];
  probes: ProbePoint[];
}

export function recentHistoryKey(runId: string): string {
  return `runs/${runId}/recent-history.json`;
}

export class RecentHistoryLog {
  private history: RecentHistory = { metrics: [], evals: [], probes: [] };
  /** Steps of the last three checkpoints written. */
  private checkpoints: number[] = [];

  addMetrics(m: StepMetrics): void {
    this.history.metrics.push(m);
  }

  addEval(e: EvalMetrics): void {
    this.history.evals.push(e);
  }

  addProbe(p: ProbePoint): void {
    this.history.probes.push(p);
  }

  /** The bytes to store with a checkpoint of `step`; forgets what is older than two intervals. */
  snapshot(step: number): Uint8Array {
    // This checkpoint, the previous one and the one before it: keep what came after the last.
    this.checkpoints = [...this.checkpoints.slice(-2), step];
    const from = this.checkpoints.length > 2 ? this.checkpoints[0] : -Infinity;
    const h = this.history;
    this.history = {
      metrics: h.metrics.filter((m) => m.step > from && m.step <= step),
      evals: h.evals.filter((e) => e.step > from && e.step <= step),
      probes: h.probes.filter((p) => p.step > from && p.step <= step),
    };
    return new TextEncoder().encode(JSON.stringify({ version: 1, step, ...this.history }));
  }
}

const isStepLike = (v: unknown): v is { step: number } =>
  typeof v === 'object' && v !== null && Number.isInteger((v as { step: unknown }).step);

/**
 * What a stored snapshot says up to `step` (the checkpoint resumed from). Anything unreadable
 * gives an empty history: the side file only fills gaps, it never stops a resume.
 */
export function decodeRecentHistory(bytes: Uint8Array | undefined, step: number): RecentHistory {
  const empty: RecentHistory = { metrics: [], evals: [], probes: [] };
  if (!bytes) return empty;
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    if (v.version !== 1) return empty;
    const list = (x: unknown) => (Array.isArray(x) ? x.filter(isStepLike) : []);
    const upTo = <T extends { step: number }>(xs: T[]) => xs.filter((x) => x.step <= step);
    return {
      metrics: upTo(list(v.metrics) as StepMetrics[]),
      evals: upTo(list(v.evals) as EvalMetrics[]),
      probes: upTo(list(v.probes).filter(isProbePoint)),
    };
  } catch {
    return empty;
  }
}

/**
 * The page's records of a resumed run merged with the worker's recent history: the page's
 * entries up to `step` stand, the history adds the steps the page is missing.
 */
export function mergeRecentHistory(
  page: { metrics: readonly StepMetrics[]; evals: readonly EvalMetrics[] },
  recent: RecentHistory | undefined,
  step: number,
): { metrics: StepMetrics[]; evals: EvalMetrics[] } {
  const fill = <T extends { step: number }>(mine: readonly T[], theirs: readonly T[] = []) => {
    const kept = mine.filter((x) => x.step <= step);
    const have = new Set(kept.map((x) => x.step));
    return [...kept, ...theirs.filter((x) => x.step <= step && !have.has(x.step))].sort(
      (a, b) => a.step - b.step,
    );
  };
  return { metrics: fill(page.metrics, recent?.metrics), evals: fill(page.evals, recent?.evals) };
}
