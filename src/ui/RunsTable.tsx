/**
 * The Runs table: one row per run — overlay tick, name (rename) and notes, status, steps,
 * training time, losses, the settings it differs in, and the actions RunsView passes — with a
 * filter, a sort, and the runs of one ordering comparison grouped under a header row.
 */
import { useId, useMemo, useState, type ReactNode } from 'react';
import { formatDuration, formatNumber } from '../util/format';
import { datasetLabel, type RunRecord } from './runRecords';
import {
  filterRuns,
  groupRuns,
  SORT_KEYS,
  SORT_LABELS,
  trainingMs,
  type SortKey,
} from './runsTable';
import { useRuns } from './runsStore';

const COLUMNS = 9;

function RunNameCell({ run }: { run: RunRecord }) {
  const rename = useRuns((s) => s.rename);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(run.name);
  if (!editing)
    return (
      <span className="run-name">
        <span data-testid="run-name">{run.name}</span>{' '}
        <button
          type="button"
          className="link"
          onClick={() => {
            setText(run.name);
            setEditing(true);
          }}
          aria-label={`Rename ${run.name}`}
        >
          rename
        </button>
      </span>
    );
  const commit = () => {
    rename(run.id, text);
    setEditing(false);
  };
  return (
    <input
      autoFocus
      aria-label="New name"
      value={text}
      onChange={(e) => setText(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') commit();
        if (e.key === 'Escape') setEditing(false);
      }}
      data-testid="rename-input"
    />
  );
}

/** The run's notes: shown under its name, edited in place (saved on blur or Ctrl+Enter). */
function RunNotes({ run }: { run: RunRecord }) {
  const setNotes = useRuns((s) => s.setNotes);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(run.notes ?? '');
  if (!editing)
    return (
      <div className="run-notes small">
        {run.notes && (
          <span className="notes-text" data-testid="run-notes">
            {run.notes}
          </span>
        )}{' '}
        <button
          type="button"
          className="link"
          onClick={() => {
            setText(run.notes ?? '');
            setEditing(true);
          }}
          aria-label={`${run.notes ? 'Edit the notes of' : 'Add notes to'} ${run.name}`}
          data-testid="edit-notes"
        >
          {run.notes ? 'edit notes' : 'add notes'}
        </button>
      </div>
    );
  const commit = () => {
    setNotes(run.id, text);
    setEditing(false);
  };
  return (
    <textarea
      autoFocus
      rows={2}
      aria-label={`Notes on ${run.name}`}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) commit();
        if (e.key === 'Escape') setEditing(false);
      }}
      data-testid="notes-input"
    />
  );
}

export function RunsTable({
  runs,
  diffs,
  actions,
  focusRun,
}: {
  runs: readonly RunRecord[];
  diffs: ReadonlyMap<string, string[]>;
  actions: (run: RunRecord) => ReactNode;
  /** The run a link opened the tab on: marked. */
  focusRun?: string;
}) {
  const selected = useRuns((s) => s.selected);
  const toggle = useRuns((s) => s.toggleSelected);
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<SortKey>('newest');
  const id = useId();
  const shown = useMemo(() => filterRuns(runs, query, diffs), [runs, query, diffs]);
  const groups = useMemo(() => groupRuns(shown, sort), [shown, sort]);

  const row = (r: RunRecord, inGroup: boolean) => (
    <tr
      key={r.id}
      data-run-id={r.id}
      data-testid="run-row"
      data-focused={r.id === focusRun || undefined}
      className={
        [inGroup ? 'in-group' : '', r.id === focusRun ? 'focused' : ''].join(' ').trim() ||
        undefined
      }
    >
      <td>
        <input
          type="checkbox"
          checked={selected.includes(r.id)}
          onChange={() => toggle(r.id)}
          aria-label={`Overlay ${r.name}`}
          data-testid="run-select"
        />
        <span className="swatch" style={{ background: r.colour }} />
      </td>
      <td>
        <RunNameCell run={r} />
        <div className="muted small">
          {new Date(r.createdAt).toLocaleString()} · {r.settings.preset} · {datasetLabel(r.dataset)}
        </div>
        <RunNotes run={r} />
      </td>
      <td>{r.phase}</td>
      <td className="nowrap">
        {r.step} / {r.settings.steps}
      </td>
      <td className="nowrap" data-testid="run-time">
        {r.metrics.length ? formatDuration(trainingMs(r)) : '—'}
      </td>
      <td>{formatNumber(r.metrics.at(-1)?.trainLoss)}</td>
      <td>{formatNumber(r.evals.at(-1)?.valLoss)}</td>
      <td data-testid="run-diff">
        {(diffs.get(r.id) ?? []).map((d) => (
          <code key={d} className="diff">
            {d}
          </code>
        ))}
      </td>
      <td className="actions">
        <div className="actions-inner">{actions(r)}</div>
      </td>
    </tr>
  );

  return (
    <>
      <div className="controls runs-filter">
        <label htmlFor={`${id}-filter`}>Filter</label>
        <input
          id={`${id}-filter`}
          type="search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="name, preset, ordering, status, notes…"
          data-testid="runs-filter"
        />
        <label htmlFor={`${id}-sort`}>Sort by</label>
        <select
          id={`${id}-sort`}
          value={sort}
          onChange={(e) => setSort(e.target.value as SortKey)}
          data-testid="runs-sort"
        >
          {SORT_KEYS.map((k) => (
            <option key={k} value={k}>
              {SORT_LABELS[k]}
            </option>
          ))}
        </select>
        <span className="muted small" data-testid="runs-shown" role="status">
          {shown.length === runs.length
            ? `${runs.length} run${runs.length === 1 ? '' : 's'}`
            : `${shown.length} of ${runs.length} runs shown`}
        </span>
      </div>
      {shown.length === 0 ? (
        <p className="muted" data-testid="runs-none-match">
          No run matches “{query}”.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="runs" data-testid="runs-table">
            <thead>
              <tr>
                <th scope="col">
                  <span className="sr-only">overlay</span>
                </th>
                <th scope="col">name</th>
                <th scope="col">status</th>
                <th scope="col">steps</th>
                <th scope="col" title="Time spent in the run's steps (not pauses or builds)">
                  time
                </th>
                <th scope="col">train loss</th>
                <th scope="col">val loss</th>
                <th scope="col">differs in</th>
                <th scope="col">actions</th>
              </tr>
            </thead>
            <tbody>
              {groups.flatMap((g) =>
                g.comparison
                  ? [
                      <tr key={`group-${g.key}`} className="group-row" data-testid="compare-group">
                        <th colSpan={COLUMNS} scope="rowgroup">
                          Ordering comparison ({g.comparison.attention}) started{' '}
                          {new Date(g.comparison.started).toLocaleString()}:{' '}
                          {g.comparison.orderings.join(', ')}
                        </th>
                      </tr>,
                      ...g.runs.map((r) => row(r, true)),
                    ]
                  : g.runs.map((r) => row(r, false)),
              )}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
