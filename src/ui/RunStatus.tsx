/** Where a run stands: phase, progress bar, ETA, throughput, GPU memory, checkpoints. */
import { RunLink } from './RunLink';
import { StepActivity } from './StepActivity';
import type { RunRecord } from './runRecords';
import { estimateTrainingMemory } from '../model/memory';
import { modelConfigFor } from '../training/settings';
import { formatBytes, formatCount, formatDuration, formatNumber } from '../util/format';

/** Everything the run holds on the GPU: the model's buffers plus AdamW's moments and scratch. */
function trainingBytes(run: RunRecord): number {
  try {
    return estimateTrainingMemory(modelConfigFor(run.settings), run.settings.batch).totalBytes;
  } catch {
    return run.gpuBytes ?? NaN;
  }
}

const PHASE_TEXT: Record<RunRecord['phase'], string> = {
  starting: 'Building the model…',
  running: 'Training',
  paused: 'Paused',
  stopped: 'Stopped',
  finished: 'Finished',
  failed: 'Failed',
  interrupted: 'Interrupted (the tab was closed or reloaded)',
};

/** Mean step time over the last few steps (the first steps include shader compilation). */
function recentStepMs(r: RunRecord): number {
  const last = r.metrics.slice(-20);
  return last.length ? last.reduce((a, m) => a + m.stepMs, 0) / last.length : NaN;
}

export function RunStatus({ run, pausing = false }: { run: RunRecord; pausing?: boolean }) {
  const phase =
    pausing && (run.phase === 'running' || run.phase === 'paused') ? 'pausing' : run.phase;
  const total = run.settings.steps;
  const stepMs = recentStepMs(run);
  const latest = run.metrics.at(-1);
  const lastEval = run.evals.at(-1);
  const remaining = Math.max(0, total - run.step);
  const eta = run.phase === 'running' ? remaining * stepMs : NaN;
  const pct = Math.round((100 * run.step) / total);
  return (
    <div className="run-status" data-testid="run-status" data-phase={phase} data-step={run.step}>
      <div className="status-line">
        <span className={`phase phase-${run.phase}`} role="status" data-testid="run-phase">
          {phase === 'pausing' ? 'Pausing after this step…' : PHASE_TEXT[run.phase]}
        </span>
        <span>
          step <strong data-testid="run-step">{run.step}</strong> / {total}
        </span>
        {run.phase === 'running' && Number.isFinite(eta) && <span>ETA {formatDuration(eta)}</span>}
      </div>
      <p className="muted small run-name-line">
        {run.name} · <RunLink runId={run.id} />
      </p>
      {run.phase === 'interrupted' && run.checkpointStep === undefined && (
        <p className="muted small" data-testid="nothing-to-resume">
          Nothing can be resumed: the run stopped before its first checkpoint
          {run.settings.checkpointEvery > 0
            ? ` (one is saved every ${run.settings.checkpointEvery} steps)`
            : ' (with “checkpoint every” at 0, one is saved only at the end)'}
          . Press Train to start it again.
        </p>
      )}
      {run.phase === 'starting' && run.building && (
        <p className="muted small" data-testid="build-progress">
          Compiling the GPU kernels: {run.building.compiled} of {run.building.requested} asked for
          so far (only the first run on this GPU compiles them all).
        </p>
      )}
      <progress max={total} value={run.step} aria-label={`Training progress: ${pct}%`} />
      <StepActivity run={run} />
      <dl className="stats">
        <div>
          <dt>train loss</dt>
          <dd data-testid="train-loss">{formatNumber(latest?.trainLoss)}</dd>
        </div>
        <div>
          <dt>val loss</dt>
          <dd>{formatNumber(lastEval?.valLoss)}</dd>
        </div>
        <div>
          <dt>img/s</dt>
          <dd>{latest ? formatNumber(latest.imgPerSec, 3) : '—'}</dd>
        </div>
        <div>
          <dt>step</dt>
          <dd>{Number.isFinite(stepMs) ? `${stepMs.toFixed(0)} ms` : '—'}</dd>
        </div>
        <div>
          <dt>learning rate</dt>
          <dd>{formatNumber(latest?.lr)}</dd>
        </div>
        <div>
          <dt>grad norm</dt>
          <dd>{formatNumber(latest?.gradNorm)}</dd>
        </div>
        <div>
          <dt>GPU memory</dt>
          <dd
            title={`Parameters, gradients, AdamW moments, activations and kernel scratch (estimate); the model's own buffers measure ${run.gpuBytes ? formatBytes(run.gpuBytes) : '—'}`}
          >
            {run.gpuBytes ? formatBytes(trainingBytes(run)) : '—'}
          </dd>
        </div>
        <div>
          <dt>parameters</dt>
          <dd>{run.parameters ? formatCount(run.parameters) : '—'}</dd>
        </div>
      </dl>
      <p className="muted small">
        {run.datasetName ?? ''}
        {run.checkpointStep !== undefined &&
          ` · checkpoint at step ${run.checkpointStep} (${run.checkpointStore === 'memory' ? 'in memory' : `in browser storage, ${run.checkpointStore}`})`}
      </p>
      {run.storageFull && (
        <p className="notice warn-notice" role="alert" data-testid="storage-full">
          {run.storageFull}
        </p>
      )}
    </div>
  );
}
