/**
 * Compare orderings (the paper's Table 3b / Figure 7): the four orderings trained with the same
 * settings and seed; the per-chunk validation loss, one line per ordering, and the loss curves
 * overlaid, both updating live; each ordering drawn on a real image; the whole comparison
 * exported as JSON. The attention the runs trained with (causal as Table 3b, or prefix) is
 * named on every chart, in the chart files' names and in the JSON.
 */
import { RunLink } from './RunLink';
import { useMemo, useState } from 'react';
import { ORDERINGS, type Ordering } from '../model/orderings';
import { ORDERING_COLOURS } from './charts/chartData';
import { ChartControls, ChunkLossChart, LossChart } from './charts/LossCharts';
import {
  attentionOf,
  COMPARE_ATTENTION_HELP,
  COMPARE_ATTENTION_LABELS,
  COMPARE_ATTENTIONS,
  useCompare,
  type CompareMode,
} from './compareStore';
import { downloadText } from './download';
import { ErrorNotice } from './ErrorNotice';
import { formatNumber } from '../util/format';
import { OrderingView } from './OrderingView';
import { isActive, type RunRecord } from './runRecords';
import { stopRun } from './runDriver';
import { useRuns } from './runsStore';
import { datasetChoice, settingsProblems, useSettings } from './settingsStore';
import { usePlayground } from './store';

/** The runs of the comparison on show: the one running, else the newest in the records. */
function useComparisonRuns(): { id?: string; runs: Partial<Record<Ordering, RunRecord>> } {
  const currentId = useCompare((s) => s.id);
  const records = useRuns((s) => s.records);
  const order = useRuns((s) => s.order);
  return useMemo(() => {
    let id = currentId;
    if (!id) {
      for (let i = order.length - 1; i >= 0 && !id; i--) id = records[order[i]]?.compare?.id;
    }
    const runs: Partial<Record<Ordering, RunRecord>> = {};
    if (id)
      for (const rid of order) {
        const r = records[rid];
        if (r?.compare?.id === id) runs[r.compare.ordering] = r;
      }
    return { id, runs };
  }, [currentId, records, order]);
}

export function CompareView() {
  const { mode, attention, running, current, error, setMode, setAttention, start, stop } =
    useCompare();
  const settings = useSettings((s) => s.settings);
  const datasetKind = useSettings((s) => s.datasetKind);
  const userDataset = useSettings((s) => s.userDataset);
  const gpuReady = usePlayground((s) => s.gpuPhase === 'ready');
  const { id, runs } = useComparisonRuns();
  const [playing, setPlaying] = useState(false);
  const limits = usePlayground((s) => s.capabilities?.limits);
  const problems = useMemo(
    () => settingsProblems({ settings, datasetKind, userDataset }, limits),
    [settings, datasetKind, userDataset, limits],
  );
  const present = ORDERINGS.filter((o) => runs[o]);
  const reference = present.length ? runs[present[0]]!.settings : settings;
  // The charts name the attention of the runs they show; before any run, the one chosen.
  const shownAttention = present.length ? attentionOf(reference) : attention;
  const attentionCaption = `attention: ${COMPARE_ATTENTION_LABELS[shownAttention]}`;

  const chunkLines = useMemo(
    () =>
      ORDERINGS.flatMap((o) => {
        const last = runs[o]?.evals.at(-1);
        return last ? [{ label: o, colour: ORDERING_COLOURS[o], chunkLoss: last.chunkLoss }] : [];
      }),
    [runs],
  );
  const curves = useMemo(
    () =>
      ORDERINGS.flatMap((o) => {
        const r = runs[o];
        return r
          ? [{ label: o, colour: ORDERING_COLOURS[o], metrics: r.metrics, evals: r.evals }]
          : [];
      }),
    [runs],
  );

  const exportJson = () => {
    const payload = {
      format: 'aim-playground-comparison',
      version: 1,
      exportedAt: new Date().toISOString(),
      id,
      mode,
      attention: shownAttention,
      settings: reference,
      runs: ORDERINGS.map((o) => runs[o]).filter(Boolean),
    };
    downloadText(
      // A name that says what it is: the preset, the seed, the schedule and the day.
      `compare-orderings-${reference.preset}-${shownAttention}-seed${reference.seed}-${mode}-${new Date().toISOString().slice(0, 10)}.json`,
      JSON.stringify(payload, null, 1),
      'application/json',
    );
  };

  // The worker trains one run at a time: a Train run going on must be stopped first, and only
  // once the user agrees (its checkpoint is saved; it can be continued later).
  const trainRun = useRuns((s) =>
    s.order.map((runId) => s.records[runId]).find((r) => r && !r.compare && isActive(r)),
  );
  const [confirming, setConfirming] = useState(false);
  const begin = async (stopTrainRunFirst: boolean) => {
    setConfirming(false);
    const dataset = datasetChoice({ settings, datasetKind, userDataset });
    if (!dataset) return;
    if (stopTrainRunFirst) await stopRun();
    void start(settings, dataset);
  };

  return (
    <div className="view" data-testid="compare-view">
      <section className="panel" aria-labelledby="compare-title">
        <h2 id="compare-title">Compare orderings</h2>
        <p className="muted">
          Trains raster, spiral, checkerboard and random with the settings on the left and the same
          seed, then plots the validation loss per chunk of the sequence: an ordering whose loss
          stays high late in the sequence keeps the task hard, which the paper links to better
          features (Figure 7).
        </p>
        <fieldset className="plain inline" disabled={running} data-testid="compare-attention">
          <legend>Attention of the four runs (overrides “Prefix attention” on the left)</legend>
          {COMPARE_ATTENTIONS.map((a) => (
            <label key={a} className="radio" title={COMPARE_ATTENTION_HELP[a]}>
              <input
                type="radio"
                name="compare-attention"
                checked={attention === a}
                onChange={() => setAttention(a)}
                data-testid={`compare-attention-${a}`}
              />
              {COMPARE_ATTENTION_LABELS[a]}
            </label>
          ))}
        </fieldset>
        <p className="muted small" data-testid="compare-attention-help">
          {COMPARE_ATTENTION_LABELS[attention]}: {COMPARE_ATTENTION_HELP[attention]}.
        </p>
        <fieldset className="plain inline" disabled={running}>
          <legend className="sr-only">How to schedule the four runs</legend>
          {(['sequential', 'interleaved'] as CompareMode[]).map((m) => (
            <label key={m} className="radio">
              <input
                type="radio"
                name="compare-mode"
                checked={mode === m}
                onChange={() => setMode(m)}
                data-testid={`compare-mode-${m}`}
              />
              {m === 'sequential'
                ? 'one after the other'
                : `interleaved (take turns every ${settings.evalEvery} steps)`}
            </label>
          ))}
        </fieldset>
        <div className="controls">
          <button
            type="button"
            onClick={() => (trainRun ? setConfirming(true) : void begin(false))}
            disabled={running || confirming || !gpuReady || problems.length > 0}
            data-testid="compare-start"
          >
            Train all four orderings
          </button>
          <button
            type="button"
            className="secondary danger"
            onClick={() => void stop()}
            disabled={!running}
            data-testid="compare-stop"
          >
            Stop
          </button>
          <button
            type="button"
            className="secondary"
            onClick={exportJson}
            disabled={present.length === 0}
            data-testid="compare-export"
          >
            Export comparison (JSON)
          </button>
        </div>
        {confirming && trainRun && (
          <div
            className="notice warn-notice"
            role="alertdialog"
            aria-labelledby="compare-confirm"
            data-testid="compare-confirm"
          >
            <p id="compare-confirm">
              “{trainRun.name}” is training in the Train tab (step {trainRun.step}). The GPU trains
              one run at a time: comparing stops it and keeps its checkpoint, so you can continue it
              later from the Train or Runs tab.
            </p>
            <div className="controls">
              <button
                type="button"
                onClick={() => void begin(true)}
                data-testid="compare-confirm-stop"
              >
                Stop it and compare
              </button>
              <button
                type="button"
                className="secondary"
                onClick={() => setConfirming(false)}
                data-testid="compare-confirm-cancel"
              >
                Keep training
              </button>
            </div>
          </div>
        )}
        {problems.length > 0 && <p className="bad">Fix the settings first: {problems[0]}</p>}
        <table className="results" data-testid="compare-table" data-running={running}>
          <thead>
            <tr>
              <th scope="col">ordering</th>
              <th scope="col">status</th>
              <th scope="col">step</th>
              <th scope="col">train loss</th>
              <th scope="col">val loss</th>
            </tr>
          </thead>
          <tbody>
            {ORDERINGS.map((o) => {
              const r = runs[o];
              return (
                <tr key={o} data-ordering={o} data-phase={r?.phase ?? 'none'}>
                  <th scope="row">
                    <span className="swatch" style={{ background: ORDERING_COLOURS[o] }} /> {o}
                    {running && current === o && <span className="tag">now</span>}
                    {r && (
                      <>
                        {' '}
                        <RunLink runId={r.id} testId={`run-link-${o}`}>
                          run
                        </RunLink>
                      </>
                    )}
                  </th>
                  <td>{r ? r.phase : running ? 'waiting' : '—'}</td>
                  <td>{r ? `${r.step} / ${r.settings.steps}` : '—'}</td>
                  <td>{formatNumber(r?.metrics.at(-1)?.trainLoss)}</td>
                  <td>{formatNumber(r?.evals.at(-1)?.valLoss)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {error && <ErrorNotice error={error} />}
        {ORDERINGS.map((o) => {
          const e = runs[o]?.error;
          return e ? <ErrorNotice key={o} error={e} context={`(${o})`} /> : null;
        })}
      </section>
      <section className="panel" aria-label="Comparison charts">
        <ChartControls />
        <div className="chart-grid">
          <ChunkLossChart
            lines={chunkLines}
            testId="compare-chunk-chart"
            title={`Validation loss per chunk of the sequence (Figure 7) · ${attentionCaption}`}
            exportName={`orderings-per-chunk-loss-${shownAttention}`}
          />
          <LossChart
            runs={curves}
            testId="compare-loss-chart"
            title={`Loss · ${attentionCaption}`}
            exportName={`orderings-loss-${shownAttention}`}
          />
        </div>
      </section>
      <section className="panel" aria-labelledby="orders-title">
        <h3 id="orders-title">
          The four orderings on the {reference.preset} patch grid{' '}
          <button
            type="button"
            className="small secondary"
            aria-pressed={playing}
            onClick={() => setPlaying((p) => !p)}
          >
            {playing ? 'Stop animation' : 'Animate'}
          </button>
        </h3>
        <div className="ordering-row">
          {ORDERINGS.map((o) => (
            <OrderingView key={o} ordering={o} preset={reference.preset} playing={playing} />
          ))}
        </div>
      </section>
    </div>
  );
}
