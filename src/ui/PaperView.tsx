/**
 * The Paper tab: one of the paper's tables (3a–3f, 4a–4b) at tiny scale. Every cell trains
 * with the same data, seed and budget in the paper-mode worker, is probed (linear and
 * attentive), and the table fills in cell by cell in the paper's layout beside the paper's
 * published AIM-0.6B numbers (labelled as such); 3b also shows the per-chunk curves. Exports
 * Markdown, CSV and table.json. The grid is saved after every cell and resumes after a reload.
 */
import { useEffect, useMemo } from 'react';
import { ORDERING_COLOURS } from './charts/chartData';
import { ChunkLossChart } from './charts/LossCharts';
import { downloadText } from './download';
import { ErrorNotice } from './ErrorNotice';
import { NumberField } from './NumberField';
import { renderCsv, renderMarkdown, tableJson, tableRows } from '../paper/render';
import type { GridState } from '../paper/runGrid';
import {
  PAPER_PRESETS,
  PAPER_SOURCE,
  PAPER_TABLE_IDS,
  PAPER_TABLES,
  paperTable,
  paperTableName,
  type PaperPreset,
  type PaperTableId,
} from '../paper/tables';
import { usePaper, type PaperDataset } from './paperStore';

/** The form's number fields: key, label, bounds (probes train in batches of 64). */
const NUMBER_FIELDS = [
  ['steps', 'Steps per cell', 1, 1_000_000],
  ['batch', 'Batch', 1, 4096],
  ['seed', 'Seed', 0, 0xffffffff],
  ['probeTrainImages', 'Probe training images', 64, 60_000],
  ['probeTestImages', 'Probe held-out images', 1, 10_000],
  ['probeEpochs', 'Probe epochs', 1, 1000],
] as const;

const FALLBACK_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

function exportName(grid: GridState, ext: string): string {
  const s = grid.spec;
  return `paper-table-${s.table}-${s.preset}-${s.steps}x${s.batch}-seed${s.seed}.${ext}`;
}

function PaperTableView({ grid }: { grid: GridState }) {
  const { header, rows } = useMemo(() => tableRows(grid), [grid]);
  const table = paperTable(grid.spec.table);
  return (
    <div className="table-scroll">
      <table className="results" data-testid="paper-table" data-table={table.id}>
        <caption>
          {paperTableName(table.id)} {table.title} — {grid.spec.preset}, {grid.spec.steps} steps of{' '}
          {grid.spec.batch}, seed {grid.spec.seed}
        </caption>
        <thead>
          <tr>
            {header.map((h, i) => (
              <th key={i} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.label} className={row.label.includes('paper') ? 'muted' : undefined}>
              <th scope="row">{row.label}</th>
              {row.values.map((v, i) => (
                <td key={i} data-variant={table.variants[i].id}>
                  {v}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        Top-1 in %; † the paper’s default. The “paper” rows are the published numbers of{' '}
        {PAPER_SOURCE}; n/a: not in the paper’s text.
      </p>
      <ul className="muted">
        {table.notes.map((n) => (
          <li key={n}>{n}</li>
        ))}
      </ul>
    </div>
  );
}

function ProgressLine() {
  const { progress, building, status, grid } = usePaper();
  if (status !== 'running' && status !== 'stopping') return null;
  const cells = grid ? paperTable(grid.spec.table).variants.length : undefined;
  const done = grid?.cells.length ?? 0;
  let text = 'Starting…';
  if (building) text = `Compiling the GPU kernels: ${building.compiled} of ${building.requested}`;
  else if (progress) {
    const where =
      progress.step !== undefined ? ` — step ${progress.step} of ${progress.steps}` : '';
    const what = progress.message ? ` — ${progress.message}` : '';
    text = `Cell ${progress.cell + 1} of ${progress.cells} (${progress.variant}): ${progress.phase}${where}${what}`;
  }
  return (
    <p data-testid="paper-progress" aria-live="polite">
      {status === 'stopping' ? 'Stopping after this step… ' : ''}
      {text}
      {cells !== undefined ? ` · ${done} of ${cells} cells finished` : ''}
    </p>
  );
}

export function PaperView() {
  const { form, status, grid, error, setForm, load, start, resume, stop, clear } = usePaper();
  useEffect(() => {
    void load();
  }, [load]);
  const busy = status === 'running' || status === 'stopping' || status === 'loading';
  const invalid = NUMBER_FIELDS.some(
    ([key, , min, max]) => wholeProblem(form[key], min, max) !== undefined,
  );
  const shown = grid;
  const table = shown ? paperTable(shown.spec.table) : PAPER_TABLES[form.table];
  const chunkLines = useMemo(
    () =>
      shown && table.chunkCurves
        ? table.variants.flatMap((v, i) => {
            const c = shown.cells.find((x) => x.variant === v.id);
            const colour =
              (ORDERING_COLOURS as Record<string, string>)[v.id] ??
              FALLBACK_COLOURS[i % FALLBACK_COLOURS.length];
            return c ? [{ label: v.label, colour, chunkLoss: c.chunkLoss }] : [];
          })
        : [],
    [shown, table],
  );
  const unfinished = shown && status === 'stopped' && shown.cells.length < table.variants.length;

  return (
    <div className="paper-view" data-testid="paper-view">
      <section className="panel" aria-labelledby="paper-title">
        <h2 id="paper-title">The paper’s tables at tiny scale</h2>
        <p className="muted">
          Every cell of the chosen table is pre-trained with the same data, seed and budget, then
          probed on its frozen trunk (a linear and an attentive probe), and set beside the paper’s
          own numbers for AIM-0.6B on ImageNet-1k.
        </p>
        <div className="field-grid">
          <div className="field">
            <label htmlFor="paper-table-choice">Table</label>
            <select
              id="paper-table-choice"
              data-testid="paper-table-choice"
              value={form.table}
              disabled={busy}
              onChange={(e) => setForm({ table: e.target.value as PaperTableId })}
            >
              {PAPER_TABLE_IDS.map((id) => (
                <option key={id} value={id}>
                  {paperTableName(id)} {PAPER_TABLES[id].title}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="paper-preset">Preset</label>
            <select
              id="paper-preset"
              data-testid="paper-preset"
              value={form.preset}
              disabled={busy}
              onChange={(e) => setForm({ preset: e.target.value as PaperPreset })}
            >
              {PAPER_PRESETS.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="paper-dataset">Data</label>
            <select
              id="paper-dataset"
              data-testid="paper-dataset"
              value={form.dataset}
              disabled={busy}
              onChange={(e) => setForm({ dataset: e.target.value as PaperDataset })}
            >
              <option value="fashion-mnist">Fashion-MNIST (embedded)</option>
              <option value="procedural">Procedural patterns</option>
            </select>
          </div>
          {NUMBER_FIELDS.map(([key, label, min, max]) => (
            <NumberField
              key={key}
              label={label}
              value={form[key]}
              testId={`paper-${key}`}
              problem={wholeProblem(form[key], min, max)}
              onChange={(v) => setForm({ [key]: v })}
            />
          ))}
        </div>
        <div className="controls">
          <button
            type="button"
            onClick={() => void start()}
            disabled={busy || invalid}
            data-testid="paper-run"
          >
            Run the grid
          </button>
          {unfinished && (
            <button
              type="button"
              onClick={() => void resume()}
              disabled={busy}
              data-testid="paper-resume"
            >
              Resume ({shown.cells.length} of {table.variants.length} cells finished)
            </button>
          )}
          <button
            type="button"
            className="secondary"
            onClick={() => void stop()}
            disabled={status !== 'running'}
            data-testid="paper-stop"
          >
            Stop
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => void clear()}
            disabled={busy || !shown}
            data-testid="paper-clear"
          >
            Forget this grid
          </button>
        </div>
        <ProgressLine />
        {error && <ErrorNotice error={error} testId="paper-error" />}
      </section>
      {shown && (
        <section className="panel" aria-label="Table">
          <PaperTableView grid={shown} />
          <div className="controls">
            <button
              type="button"
              className="secondary"
              data-testid="paper-export-md"
              onClick={() => downloadText(exportName(shown, 'md'), renderMarkdown(shown))}
            >
              Markdown
            </button>
            <button
              type="button"
              className="secondary"
              data-testid="paper-export-csv"
              onClick={() => downloadText(exportName(shown, 'csv'), renderCsv(shown), 'text/csv')}
            >
              CSV
            </button>
            <button
              type="button"
              className="secondary"
              data-testid="paper-export-json"
              onClick={() =>
                downloadText(
                  exportName(shown, 'json'),
                  JSON.stringify(tableJson(shown), null, 2),
                  'application/json',
                )
              }
            >
              table.json
            </button>
          </div>
        </section>
      )}
      {shown && table.chunkCurves && (
        <section className="panel" aria-label="Per-chunk curves">
          <ChunkLossChart
            lines={chunkLines}
            testId="paper-chunk-chart"
            title="Validation loss per chunk of the sequence (Figure 7), causal pre-training"
            exportName={`paper-table-${shown.spec.table}-per-chunk-loss`}
          />
        </section>
      )}
    </div>
  );
}

/** Why `v` is not a whole number in [min, max], or undefined. */
function wholeProblem(v: number, min: number, max: number): string | undefined {
  return Number.isInteger(v) && v >= min && v <= max
    ? undefined
    : `Use a whole number from ${min} to ${max}.`;
}
