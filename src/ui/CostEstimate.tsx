/**
 * The cost of these settings on this adapter, shown beside Train: seconds per step and the
 * run's total, and where the figure comes from (stepEstimate.ts). On first use the adapter's
 * speed is measured once (about a second, in the worker) and remembered in this browser.
 */
import { useEffect, useMemo } from 'react';
import { workerApi } from '../worker/client';
import { isActive } from './runRecords';
import { useRuns } from './runsStore';
import { useSettings } from './settingsStore';
import { usePlayground } from './store';
import { formatDuration } from '../util/format';
import { adapterKey, estimateRun, useGpuRates } from './stepEstimate';

async function measure(key: string) {
  const rates = useGpuRates.getState();
  if (rates.measuring.includes(key)) return;
  rates.setMeasuring(key, true);
  try {
    rates.remember(key, await workerApi().measureGpuRate());
    rates.setProblem(undefined);
  } catch (error) {
    rates.setProblem(`This GPU's speed could not be measured: ${(error as Error).message}`);
  } finally {
    useGpuRates.getState().setMeasuring(key, false);
  }
}

export function CostEstimate() {
  const settings = useSettings((s) => s.settings);
  const caps = usePlayground((s) => s.capabilities);
  const ready = usePlayground((s) => s.gpuPhase === 'ready');
  const records = useRuns((s) => s.records);
  const { rates, measuring, problem } = useGpuRates();
  const key = caps ? adapterKey(caps) : undefined;
  const runs = useMemo(() => Object.values(records), [records]);
  const anyActive = runs.some(isActive);
  const estimate = useMemo(
    () => estimateRun(settings, key, runs, key ? rates[key] : undefined),
    [settings, key, runs, rates],
  );
  const needsMeasurement = ready && key !== undefined && !rates[key] && !problem;
  useEffect(() => {
    // Not while a run trains: it would slow the run, and the run measures the GPU anyway.
    if (needsMeasurement && !anyActive) void measure(key!);
  }, [needsMeasurement, anyActive, key]);

  if (!ready || !key) return null;
  if (!estimate)
    return (
      <p className="muted small" data-testid="cost-estimate" data-source="none">
        {problem ??
          (measuring.includes(key)
            ? 'Measuring this GPU’s speed (about a second) to estimate how long a run takes…'
            : 'The time estimate appears once this GPU’s speed is known.')}
      </p>
    );
  const from =
    estimate.source === 'same-run'
      ? `measured in “${estimate.runName}” on this GPU`
      : estimate.source === 'other-run'
        ? `scaled from “${estimate.runName}” on this GPU by the work per step`
        : 'rough: from a one-second measurement of this GPU; your first run refines it';
  return (
    <p
      className="small cost-estimate"
      data-testid="cost-estimate"
      data-source={estimate.source}
      data-ms-per-step={Math.round(estimate.msPerStep)}
    >
      About <strong>{formatDuration(estimate.msPerStep)} per step</strong>,{' '}
      <strong>{formatDuration(estimate.totalMs)}</strong> for {settings.steps.toLocaleString('en')}{' '}
      steps <span className="muted">({from}).</span>
    </p>
  );
}
