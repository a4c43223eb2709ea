/**
 * Train: one run at a time in the worker, driven by Train / Pause / Resume / Step / Stop, with
 * its status, the loss charts, the per-chunk validation loss and its ordering on a real image.
 */
import { useMemo } from 'react';
import { ChunkStepChart } from './charts/ChunkSteps';
import { DynamicsCharts } from './charts/DynamicsCharts';
import { ChartControls, LossChart } from './charts/LossCharts';
import { ProbeCurves } from './charts/ProbeCurves';
import { useCompare } from './compareStore';
import { CostEstimate } from './CostEstimate';
import { ErrorNotice } from './ErrorNotice';
import { OrderingView } from './OrderingView';
import { PatchLossMaps } from './PatchLossMap';
import { PredictionGrid } from './PredictionGrid';
import {
  pauseRun,
  resumeFromCheckpoint,
  resumeRun,
  startRun,
  stepRun,
  stopRun,
  useSession,
} from './runDriver';
import { SETTING_KEYS, type RunSettings } from '../training/settings';
import { isActive, runCaption, type RunRecord } from './runRecords';
import { useRuns } from './runsStore';
import { RunStatus } from './RunStatus';
import { datasetChoice, settingsProblems, useSettings } from './settingsStore';
import { usePlayground } from './store';

/** Two settings objects configure the same run. */
function sameSettings(a: RunSettings, b: RunSettings): boolean {
  return SETTING_KEYS.every((key) => a[key] === b[key]);
}

/**
 * The Train view's run: the one running or paused here, else the run started here, else the
 * newest run trained outside a comparison — but a finished, stopped or failed run only while
 * the settings are still its settings. The panel must never show one configuration's run (its
 * status, its failure, its "Continue") beside another configuration's settings and link.
 */
export function useActiveRun(): RunRecord | undefined {
  const id = useSession((s) => s.activeRunId);
  const settings = useSettings((s) => s.settings);
  return useRuns((s) => {
    const shown = (r: RunRecord | undefined) =>
      r !== undefined && (isActive(r) || sameSettings(r.settings, settings));
    if (id && shown(s.records[id])) return s.records[id];
    for (let i = s.order.length - 1; i >= 0; i--) {
      const r = s.records[s.order[i]];
      if (r && !r.compare && shown(r)) return r;
    }
    return undefined;
  });
}

export function TrainControls({ disabledReason }: { disabledReason?: string }) {
  const run = useActiveRun();
  const busy = useSession((s) => s.busy);
  const settings = useSettings((s) => s.settings);
  const datasetKind = useSettings((s) => s.datasetKind);
  const userDataset = useSettings((s) => s.userDataset);
  const gpuReady = usePlayground((s) => s.gpuPhase === 'ready');
  const limits = usePlayground((s) => s.capabilities?.limits);
  const problems = useMemo(
    () => settingsProblems({ settings, datasetKind, userDataset }, limits),
    [settings, datasetKind, userDataset, limits],
  );
  const active = run !== undefined && isActive(run);
  const comparing = useCompare((s) => s.running);
  const canTrain = gpuReady && !active && !comparing && problems.length === 0 && !disabledReason;
  const train = () => {
    const dataset = datasetChoice({ settings, datasetKind, userDataset });
    if (dataset) void startRun(settings, dataset);
  };
  return (
    <div className="controls" role="toolbar" aria-label="Training controls">
      <button type="button" onClick={train} disabled={!canTrain} data-testid="train">
        Train
      </button>
      <button
        type="button"
        className="secondary"
        onClick={() => void pauseRun()}
        disabled={busy || run?.phase !== 'running'}
        data-testid="pause"
      >
        Pause
      </button>
      <button
        type="button"
        className="secondary"
        onClick={() => void resumeRun()}
        disabled={busy || run?.phase !== 'paused'}
        data-testid="resume"
      >
        Resume
      </button>
      <button
        type="button"
        className="secondary"
        onClick={() => void stepRun()}
        disabled={busy || run?.phase !== 'paused'}
        data-testid="step"
        title="Train exactly one step"
      >
        Step
      </button>
      <button
        type="button"
        className="secondary danger"
        onClick={() => void stopRun()}
        disabled={busy || !(run?.phase === 'running' || run?.phase === 'paused')}
        data-testid="stop"
      >
        Stop
      </button>
      {run &&
        !active &&
        gpuReady &&
        run.checkpointStep !== undefined &&
        run.step < run.settings.steps &&
        ['interrupted', 'stopped', 'failed'].includes(run.phase) && (
          <button
            type="button"
            className="secondary"
            onClick={() => void resumeFromCheckpoint(run.id)}
            data-testid="resume-checkpoint"
            title="Continue this run from its last checkpoint in this browser"
          >
            Continue from step {run.checkpointStep}
          </button>
        )}
      {disabledReason && <span className="muted">{disabledReason}</span>}
      {comparing && !disabledReason && (
        <span className="muted" data-testid="train-blocked-by-compare">
          The orderings comparison is training; stop it in Compare orderings to train here.
        </span>
      )}
    </div>
  );
}

/**
 * On a software (CPU) adapter every preset but aim-micro takes minutes per step; say so before
 * the user presses Train, with the one-click way out.
 */
function SoftwareAdapterNotice() {
  const software = usePlayground((s) => s.capabilities?.adapter.isFallbackAdapter ?? false);
  const preset = useSettings((s) => s.settings.preset);
  const setPreset = useSettings((s) => s.setPreset);
  const run = useActiveRun();
  if (!software || preset === 'aim-micro' || (run && isActive(run))) return null;
  return (
    <div className="notice warn-notice" role="note" data-testid="software-adapter-notice">
      <p>
        This browser gives WebGPU a <strong>software adapter</strong> (the GPU is emulated on the
        CPU): {preset} would take minutes per step here. aim-micro is the preset that trains in
        minutes on it.
      </p>
      <button type="button" className="secondary" onClick={() => setPreset('aim-micro')}>
        Use aim-micro
      </button>
    </div>
  );
}

export function TrainView() {
  const run = useActiveRun();
  const commandError = useSession((s) => s.commandError);
  const pausing = useSession((s) => s.pausing);
  const settings = useSettings((s) => s.settings);
  const curves = useMemo(
    () =>
      run ? [{ label: run.name, colour: '#0072b2', metrics: run.metrics, evals: run.evals }] : [],
    [run],
  );
  const dynamics = useMemo(
    () =>
      run
        ? [
            {
              label: run.name,
              colour: '#0072b2',
              metrics: run.metrics,
              clipNorm: run.settings.clipNorm,
            },
          ]
        : [],
    [run],
  );
  const caption = run ? runCaption(run) : undefined;
  // The run shown (if any) has these settings, or is running with them locked.
  const shown = run?.settings ?? settings;
  return (
    <div className="view" data-testid="train-view">
      <section className="panel" aria-labelledby="train-title">
        <h2 id="train-title">Train</h2>
        <TrainControls />
        <CostEstimate />
        <SoftwareAdapterNotice />
        {run ? (
          <RunStatus run={run} pausing={pausing} />
        ) : (
          <p className="muted">
            Press <strong>Train</strong> to train {settings.preset} on the chosen data in a Web
            Worker on your GPU. Every run is saved in this browser (Runs tab).
          </p>
        )}
        {run?.error && <ErrorNotice error={run.error} context={run.message} testId="run-error" />}
        {commandError && <ErrorNotice error={commandError} />}
      </section>
      <section className="panel" aria-label="Charts">
        <ChartControls />
        <div className="chart-grid">
          <LossChart
            runs={curves}
            testId="loss-chart"
            exportName={`${run?.name ?? 'run'}-loss`}
            caption={caption}
          />
          {/* Keyed by run: a new run's selector starts at its newest evaluation. */}
          <ChunkStepChart
            key={run?.id ?? 'none'}
            evals={run?.evals ?? []}
            colour="#0072b2"
            testId="chunk-chart"
            exportName={`${run?.name ?? 'run'}-per-chunk-loss`}
            caption={caption}
          />
        </div>
        <DynamicsCharts
          runs={dynamics}
          testIdPrefix="dynamics"
          exportName={run?.name ?? 'run'}
          caption={caption}
        />
        {run && caption && <ProbeCurves run={run} caption={caption} />}
        {run && <PatchLossMaps runs={[run]} />}
      </section>
      {/* Keyed by run: one run's predictions never stay under another's. */}
      {run && <PredictionGrid key={run.id} run={run} />}
      <section className="panel" aria-labelledby="order-title">
        <h3 id="order-title">The {shown.ordering} ordering on validation images</h3>
        <p className="muted small">
          Numbers: the position of each patch in the sequence the model predicts, on the{' '}
          {shown.preset} patch grid.
        </p>
        <div className="ordering-row">
          {[0, 1, 2, 3].map((i) => (
            <OrderingView
              key={i}
              ordering={shown.ordering}
              preset={shown.preset}
              imageIndex={i}
              size={120}
              playing={i === 0 && run?.phase === 'running'}
            />
          ))}
        </div>
      </section>
    </div>
  );
}
