/**
 * Progress within one step, as the page can know it: the worker says when it begins a step,
 * an evaluation or a checkpoint (RunEvent 'activity'); a step is one GPU submission, so the
 * finest honest figure is the time since it began against what a step takes here — the run's
 * own last step, or before its first one the cost estimate (stepEstimate.ts). The fraction is
 * an estimate and never reaches 1 before the step does.
 */
import { formatDuration } from '../util/format';
import type { RunRecord } from './runRecords';

export interface ActivityProgress {
  /** One line: what is running, for how long, against what is expected. */
  text: string;
  /** Elapsed / expected, at most 0.99; undefined when nothing is expected yet. */
  fraction?: number;
  elapsedMs: number;
}

/** Below this a step is too quick for a ticker to help (and would only flicker). */
export const SHOW_AFTER_MS = 1500;

const WHAT: Record<NonNullable<RunRecord['activity']>['kind'], string> = {
  step: 'Step',
  evaluate: 'Evaluating after step',
  checkpoint: 'Saving the checkpoint of step',
  // (Figure 4: the probes train between two steps, and the run waits for them.)
  probe: 'Probing (training waits) the trunk of step',
};

/**
 * What to show at `nowMs` for a running run's current activity; undefined when there is none
 * or it began less than SHOW_AFTER_MS ago. `expectedStepMs` is the estimate for a step
 * before the run has measured one (undefined: unknown).
 */
export function activityProgress(
  run: Pick<RunRecord, 'activity' | 'metrics' | 'phase'>,
  nowMs: number,
  expectedStepMs?: number,
): ActivityProgress | undefined {
  const a = run.activity;
  if (!a || run.phase !== 'running') return undefined;
  const elapsedMs = Math.max(0, nowMs - a.since);
  if (elapsedMs < SHOW_AFTER_MS) return undefined;
  const head = `${WHAT[a.kind]} ${a.step}: ${formatDuration(elapsedMs)} so far`;
  if (a.kind !== 'step') return { text: head, elapsedMs };
  const last = run.metrics.at(-1)?.stepMs;
  const measured = last !== undefined && Number.isFinite(last) && last > 0;
  const expected = measured ? last : expectedStepMs;
  if (expected === undefined || !Number.isFinite(expected) || expected <= 0)
    return { text: head, elapsedMs };
  const source = measured ? 'the last step took' : 'estimated';
  return {
    text: `${head} (${source} ${formatDuration(expected)})`,
    fraction: Math.min(0.99, elapsedMs / expected),
    elapsedMs,
  };
}
