import { describe, expect, it } from 'vitest';
import {
  decodeRecentHistory,
  mergeRecentHistory,
  RecentHistoryLog,
} from '../src/worker/recentHistory';
import type { EvalMetrics, StepMetrics } from '../src/training/trainer';

const metric = (step: number): StepMetrics => ({
  step,
  trainLoss: 1 / step,
  lr: 1e-3,
  gradNorm: 1,
  stepMs: 10,
  imgPerSec: 100,
});
const evaluation = (step: number): EvalMetrics =>
  ({ step, valLoss: 2 / step, chunkLoss: [1, 2] }) as EvalMetrics;

describe('the recent history stored beside a checkpoint', () => {
  it('keeps what came after the checkpoint before the last, up to this one', () => {
    const log = new RecentHistoryLog();
    for (let s = 1; s <= 9; s++) {
      log.addMetrics(metric(s));
      if (s % 3 === 0) log.addEval(evaluation(s));
      if (s === 3 || s === 6) log.snapshot(s);
    }
    const stored = decodeRecentHistory(log.snapshot(9), 9);
    // Checkpoints at 3, 6, 9: two intervals back from 9 is 3.
    expect(stored.metrics.map((m) => m.step)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(stored.evals.map((e) => e.step)).toEqual([6, 9]);
    expect(stored.metrics[0]).toEqual(metric(4));
  });

  it('the first checkpoint keeps everything so far; a resume reads only up to its step', () => {
    const log = new RecentHistoryLog();
    for (let s = 1; s <= 4; s++) log.addMetrics(metric(s));
    const bytes = log.snapshot(4);
    expect(decodeRecentHistory(bytes, 4).metrics.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    // A checkpoint older than the history (its own write failed): nothing past it.
    expect(decodeRecentHistory(bytes, 2).metrics.map((m) => m.step)).toEqual([1, 2]);
  });

  it('anything unreadable is an empty history, never an error', () => {
    const empty = { metrics: [], evals: [], probes: [] };
    expect(decodeRecentHistory(undefined, 5)).toEqual(empty);
    expect(decodeRecentHistory(new TextEncoder().encode('{not json'), 5)).toEqual(empty);
    expect(decodeRecentHistory(new TextEncoder().encode('{"version":2}'), 5)).toEqual(empty);
    const odd = JSON.stringify({ version: 1, metrics: [{ step: 'x' }, null, metric(1)] });
    expect(decodeRecentHistory(new TextEncoder().encode(odd), 5).metrics).toEqual([metric(1)]);
  });

  it("fills the steps the page missed, keeps the page's own, and drops what comes after", () => {
    const page = { metrics: [1, 2, 3].map(metric), evals: [evaluation(3)] };
    const recent = {
      metrics: [3, 4, 5].map((s) => ({ ...metric(s), stepMs: 99 })),
      evals: [evaluation(3), evaluation(5)],
      probes: [],
    };
    const merged = mergeRecentHistory(page, recent, 5);
    expect(merged.metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5]);
    expect(merged.metrics[2].stepMs).toBe(10); // the page's step 3 stands
    expect(merged.evals.map((e) => e.step)).toEqual([3, 5]);
    // The page ran ahead of the checkpoint it resumes from: the later steps are recomputed.
    const ahead = mergeRecentHistory(
      { metrics: [1, 2, 3, 4, 5, 6].map(metric), evals: [] },
      recent,
      4,
    );
    expect(ahead.metrics.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    // Negative control: without the worker's history the gap stays.
    expect(mergeRecentHistory(page, undefined, 5).metrics.map((m) => m.step)).toEqual([1, 2, 3]);
  });
});
