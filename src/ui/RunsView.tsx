/**
 * Runs: every run this browser has trained or imported, with the settings in which each one
 * differs from the others; rename, delete, export (one or all), import, resume from a
 * checkpoint, load a run's settings, and overlay the ticked runs in fixed colours.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { ChunkStepChart } from './charts/ChunkSteps';
import { ClusterBundle } from './ClusterBundle';
import { RunsTable } from './RunsTable';
import { DynamicsCharts } from './charts/DynamicsCharts';
import { ChartControls, ChunkLossChart, LossChart } from './charts/LossCharts';
import { ProbeScatter } from './charts/ProbeScatter';
import { downloadBlob, downloadText, fileSafe } from './download';
import { PatchLossMaps } from './PatchLossMap';
import { QueryAttentionMaps } from './QueryAttentionMap';
import { deleteRun, resumeFromCheckpoint, savedCheckpoint } from './runDriver';
import {
  configDifferences,
  exportRuns,
  isActive,
  parseRunsExport,
  type RunRecord,
  runCaption,
  runsCaption,
} from './runRecords';
import { useRuns } from './runsStore';
import { useSettings } from './settingsStore';

function exportJson(name: string, runs: RunRecord[]) {
  downloadText(
    `${fileSafe(name)}.json`,
    JSON.stringify(exportRuns(runs), null, 1),
    'application/json',
  );
}

export function RunsView() {
  const records = useRuns((s) => s.records);
  const order = useRuns((s) => s.order);
  const selected = useRuns((s) => s.selected);
  const setSelected = useRuns((s) => s.setSelected);
  const importRecords = useRuns((s) => s.importRecords);
  const persistProblem = useRuns((s) => s.persistProblem);
  const setAll = useSettings((s) => s.setAll);
  const setTab = useSettings((s) => s.setTab);
  const anyActive = useRuns((s) => Object.values(s.records).some(isActive));
  const [note, setNote] = useState<string>();
  const fileInput = useRef<HTMLInputElement>(null);

  const runs = useMemo(() => order.map((id) => records[id]).filter(Boolean), [order, records]);
  // A run's link (#tab=runs&run=<id>): overlay that run and bring its row into view.
  const focusRun = useSettings((s) => s.focusRun);
  const loaded = useRuns((s) => s.loaded);
  const focusMissing = focusRun !== undefined && loaded && !records[focusRun];
  useEffect(() => {
    if (!focusRun || !records[focusRun]) return;
    const { selected: now, setSelected: select } = useRuns.getState();
    if (!now.includes(focusRun)) select([...now, focusRun]);
    document
      .querySelector(`tr[data-run-id="${CSS.escape(focusRun)}"]`)
      ?.scrollIntoView({ block: 'center' });
    // Only when the link (or its run's arrival) changes, not on every record update.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [focusRun, focusRun ? records[focusRun] !== undefined : false]);
  const diffs = useMemo(() => configDifferences(runs), [runs]);
  const chosen = useMemo(() => runs.filter((r) => selected.includes(r.id)), [runs, selected]);
  const curves = useMemo(
    () =>
      chosen.map((r) => ({ label: r.name, colour: r.colour, metrics: r.metrics, evals: r.evals })),
    [chosen],
  );
  const chunkLines = useMemo(
    () =>
      chosen.flatMap((r) => {
        const last = r.evals.at(-1);
        return last ? [{ label: r.name, colour: r.colour, chunkLoss: last.chunkLoss }] : [];
      }),
    [chosen],
  );

  const onImport = async (files: FileList | null) => {
    if (!files?.length) return;
    try {
      let added = 0;
      for (const f of files) added += importRecords(parseRunsExport(await f.text()));
      setNote(`Imported ${added} run${added === 1 ? '' : 's'}.`);
    } catch (error) {
      setNote((error as Error).message);
    }
    if (fileInput.current) fileInput.current.value = '';
  };

  const onDelete = async (run: RunRecord) => {
    if (!confirm(`Delete “${run.name}”, its metrics and its checkpoint from this browser?`)) return;
    try {
      await deleteRun(run.id);
    } catch (error) {
      setNote((error as Error).message);
    }
  };

  const downloadCheckpoint = async (run: RunRecord) => {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await savedCheckpoint(run.id);
    } catch (error) {
      setNote(`The checkpoint of “${run.name}” could not be read: ${(error as Error).message}`);
      return;
    }
    if (!bytes) setNote(`No checkpoint of “${run.name}” is stored in this browser.`);
    else
      downloadBlob(
        `${fileSafe(run.name)}.safetensors`,
        new Blob([bytes as BlobPart], { type: 'application/octet-stream' }),
      );
  };

  return (
    <div className="view" data-testid="runs-view">
      <section className="panel" aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        <div className="controls">
          <button
            type="button"
            className="secondary"
            onClick={() => exportJson('aim-runs', runs)}
            disabled={runs.length === 0}
            data-testid="export-all"
          >
            Export all runs (JSON)
          </button>
          <label className="file-button">
            Import runs…
            <input
              ref={fileInput}
              type="file"
              accept=".json,application/json"
              multiple
              onChange={(e) => void onImport(e.target.files)}
              data-testid="import-runs"
            />
          </label>
          <button
            type="button"
            className="secondary"
            onClick={() => setSelected(selected.length ? [] : runs.map((r) => r.id))}
            disabled={runs.length === 0}
          >
            {selected.length ? 'Clear selection' : 'Select all'}
          </button>
          <span role="status" className="muted" data-testid="runs-note">
            {note}
          </span>
        </div>
        {focusMissing && (
          <p className="notice warn-notice" role="status" data-testid="run-link-missing">
            This link names a run (“{focusRun}”) that is not in this browser: runs live in the
            browser that trained or imported them. Import its export here to see it.
          </p>
        )}
        {persistProblem && (
          <p className="notice warn-notice" role="alert">
            {persistProblem}
          </p>
        )}
        {runs.length === 0 ? (
          <p className="muted">No runs yet: train one, compare orderings, or import an export.</p>
        ) : (
          <RunsTable
            runs={runs}
            diffs={diffs}
            focusRun={focusRun}
            actions={(r) => {
              const resumable =
                !anyActive &&
                r.checkpointStep !== undefined &&
                r.step < r.settings.steps &&
                ['interrupted', 'stopped', 'failed', 'paused'].includes(r.phase);
              return (
                <>
                  <button
                    type="button"
                    className="small secondary"
                    onClick={() => {
                      setAll(r.settings, r.dataset);
                      setTab('train');
                    }}
                    title="Put this run's settings in the settings panel"
                  >
                    Load settings
                  </button>
                  {resumable && (
                    <button
                      type="button"
                      className="small"
                      onClick={() => {
                        setTab('train');
                        void resumeFromCheckpoint(r.id);
                      }}
                    >
                      Resume
                    </button>
                  )}
                  <button
                    type="button"
                    className="small secondary"
                    onClick={() => exportJson(r.name, [r])}
                  >
                    Export
                  </button>
                  {r.checkpointStep !== undefined && (
                    <button
                      type="button"
                      className="small secondary"
                      onClick={() => void downloadCheckpoint(r)}
                      title="The model and optimizer state (ml-aim parameter names, safetensors)"
                    >
                      Checkpoint
                    </button>
                  )}
                  <ClusterBundle run={r} />
                  <button
                    type="button"
                    className="small secondary danger"
                    onClick={() => void onDelete(r)}
                    disabled={isActive(r)}
                    aria-label={`Delete ${r.name}`}
                  >
                    Delete
                  </button>
                </>
              );
            }}
          />
        )}
      </section>
      {runs.some((r) => r.probes?.length || (r.settings.probeEvery ?? 0) > 0) && (
        <section className="panel" aria-labelledby="runs-probe-title">
          <h3 id="runs-probe-title">
            Loss against probe accuracy across runs (the paper’s Figure 4)
          </h3>
          <p className="muted small">
            One point per run that probed its trunk (setting “Probe every”): its last probe
            evaluation — the validation loss and the probes’ held-out top-1 of the same parameters.
            Runs compare only when they probed alike (same data, probe images and recipe).
          </p>
          <ProbeScatter runs={runs} testId="probe-scatter" />
        </section>
      )}
      <section className="panel" aria-label="Overlay of the selected runs">
        <h3>Selected runs overlaid</h3>
        {chosen.length === 0 ? (
          <p className="muted">Tick runs in the table to overlay their curves.</p>
        ) : (
          <>
            <ChartControls />
            <div className="chart-grid">
              <LossChart
                runs={curves}
                testId="overlay-loss-chart"
                exportName="selected-runs-loss"
                caption={chosen.length === 1 ? runCaption(chosen[0]) : runsCaption(chosen)}
              />
              {chosen.length === 1 ? (
                <ChunkStepChart
                  key={chosen[0].id}
                  evals={chosen[0].evals}
                  colour={chosen[0].colour}
                  testId="overlay-chunk-chart"
                  exportName={`${chosen[0].name}-per-chunk-loss`}
                  caption={runCaption(chosen[0])}
                />
              ) : (
                <ChunkLossChart
                  lines={chunkLines}
                  testId="overlay-chunk-chart"
                  exportName="selected-runs-per-chunk-loss"
                  caption={`${runsCaption(chosen)} · each run's newest evaluation`}
                />
              )}
            </div>
            <DynamicsCharts
              runs={chosen.map((r) => ({
                label: r.name,
                colour: r.colour,
                metrics: r.metrics,
                clipNorm: r.settings.clipNorm,
              }))}
              testIdPrefix="overlay-dynamics"
              exportName="selected-runs"
              caption={runsCaption(chosen)}
            />
            <PatchLossMaps runs={chosen} />
            <QueryAttentionMaps runs={chosen} />
          </>
        )}
      </section>
    </div>
  );
}
