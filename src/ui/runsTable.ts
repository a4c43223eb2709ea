/**
 * The Runs table's order and filter (issue 15, defect 10): sortable columns, a text filter
 * over what a row says, the training time of each run, and comparison runs kept together
 * under their comparison — pure functions over run records, so they are tested directly.
 */
import { datasetLabel, type RunRecord } from './runRecords';

export const SORT_KEYS = [
  'newest',
  'oldest',
  'name',
  'status',
  'steps',
  'trainLoss',
  'valLoss',
  'time',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export const SORT_LABELS: Record<SortKey, string> = {
  newest: 'newest first',
  oldest: 'oldest first',
  name: 'name',
  status: 'status',
  steps: 'steps done',
  trainLoss: 'train loss (lowest first)',
  valLoss: 'val loss (lowest first)',
  time: 'training time (longest first)',
};

/** Seconds spent in the run's steps (pauses, builds and reloads not counted), in ms. */
export function trainingMs(r: Pick<RunRecord, 'metrics'>): number {
  return r.metrics.reduce((sum, m) => sum + (Number.isFinite(m.stepMs) ? m.stepMs : 0), 0);
}

/** Ascending comparison for one key; runs without a value (no loss yet) go last. */
function compareBy(key: SortKey): (a: RunRecord, b: RunRecord) => number {
  const last = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? Infinity : v);
  switch (key) {
    case 'newest':
      return (a, b) => b.createdAt - a.createdAt;
    case 'oldest':
      return (a, b) => a.createdAt - b.createdAt;
    case 'name':
      return (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true });
    case 'status':
      return (a, b) => a.phase.localeCompare(b.phase);
    case 'steps':
      return (a, b) => b.step - a.step;
    case 'trainLoss':
      return (a, b) => last(a.metrics.at(-1)?.trainLoss) - last(b.metrics.at(-1)?.trainLoss);
    case 'valLoss':
      return (a, b) => last(a.evals.at(-1)?.valLoss) - last(b.evals.at(-1)?.valLoss);
    case 'time':
      return (a, b) => trainingMs(b) - trainingMs(a);
  }
}

/** What the filter searches: the row's name, status, settings, data, notes and differences. */
function searchText(r: RunRecord, diffs: readonly string[]): string {
  const s = r.settings;
  return [
    r.name,
    r.phase,
    s.preset,
    s.ordering,
    s.prefix ? 'prefix' : 'causal',
    datasetLabel(r.dataset),
    r.notes ?? '',
    ...diffs,
  ]
    .join(' ')
    .toLowerCase();
}

/** Rows whose text holds every word of the query (case-insensitive). */
export function filterRuns(
  runs: readonly RunRecord[],
  query: string,
  diffs: ReadonlyMap<string, string[]>,
): RunRecord[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...runs];
  return runs.filter((r) => {
    const text = searchText(r, diffs.get(r.id) ?? []);
    return words.every((w) => text.includes(w));
  });
}

export interface RunGroup {
  /** The comparison's id, or the run's own id for a run outside a comparison. */
  key: string;
  /** Set for a comparison: what its header row says. */
  comparison?: { started: number; attention: 'prefix' | 'causal'; orderings: string[] };
  runs: RunRecord[];
}

/**
 * The rows in order: runs outside a comparison each on their own, the runs of one comparison
 * together (in the sort's order among themselves), each group placed where its first run
 * sorts.
 */
export function groupRuns(runs: readonly RunRecord[], key: SortKey): RunGroup[] {
  const sorted = [...runs].sort(compareBy(key));
  const groups = new Map<string, RunGroup>();
  for (const r of sorted) {
    const id = r.compare?.id ?? r.id;
    let g = groups.get(id);
    if (!g) {
      g = { key: id, runs: [] };
      groups.set(id, g);
    }
    g.runs.push(r);
  }
  for (const g of groups.values()) {
    const first = g.runs[0];
    if (!first.compare) continue;
    g.comparison = {
      started: Math.min(...g.runs.map((r) => r.createdAt)),
      attention: first.settings.prefix ? 'prefix' : 'causal',
      orderings: g.runs.map((r) => r.compare!.ordering),
    };
  }
  return [...groups.values()];
}
