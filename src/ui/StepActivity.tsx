/** Progress within the step in flight (stepActivity.ts): a line and an estimated bar, ticking. */
import { useEffect, useState } from 'react';
import { activityProgress } from './stepActivity';
import type { RunRecord } from './runRecords';
import { currentAdapterKey, estimateRun, useGpuRates } from './stepEstimate';
import { useRuns } from './runsStore';

const TICK_MS = 500;

/** The cost estimate's step time for a run that has not measured one (other runs, calibration). */
function useExpectedStepMs(run: RunRecord): number | undefined {
  const records = useRuns((s) => s.records);
  const rates = useGpuRates((s) => s.rates);
  if (run.metrics.length) return undefined;
  const key = currentAdapterKey();
  const others = Object.values(records).filter((r) => r.id !== run.id);
  return estimateRun(run.settings, key, others, key ? rates[key] : undefined)?.msPerStep;
}

export function StepActivity({ run }: { run: RunRecord }) {
  const [now, setNow] = useState(() => Date.now());
  const ticking = run.phase === 'running' && run.activity !== undefined;
  useEffect(() => {
    if (!ticking) return;
    const timer = setInterval(() => setNow(Date.now()), TICK_MS);
    return () => clearInterval(timer);
  }, [ticking]);
  const expected = useExpectedStepMs(run);
  const progress = activityProgress(run, now, expected);
  if (!progress) return null;
  return (
    <div className="step-activity" data-testid="step-activity" data-kind={run.activity?.kind}>
      <span className="muted small">{progress.text}</span>
      {progress.fraction !== undefined && (
        <progress
          className="step-progress"
          max={1}
          value={progress.fraction}
          aria-label={`Within this step: about ${Math.round(100 * progress.fraction)}% (estimated)`}
        />
      )}
    </div>
  );
}
