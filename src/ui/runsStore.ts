/**
 * Every run the page knows about (zustand), persisted to IndexedDB. Metrics arrive from the
 * run driver in batches a few times a second; the store writes changed records back at most
 * every couple of seconds (at once when a run changes phase), off the critical path.
 */
import { create } from 'zustand';
import type { EvalMetrics, StepMetrics } from '../training/trainer';
import { deleteRecord, isQuotaError, loadRecords, saveRecords } from './runPersistence';
import { isActive, mergeImportedRuns, type RunRecord } from './runRecords';

export interface RunsState {
  loaded: boolean;
  records: Record<string, RunRecord>;
  /** Run ids, oldest first. */
  order: string[];
  /** Runs ticked in the runs table for the overlay chart. */
  selected: string[];
  /** Set when IndexedDB refused to store: records stay in memory only. */
  persistProblem?: string;
  load: () => Promise<void>;
  add: (record: RunRecord) => void;
  patch: (id: string, change: Partial<RunRecord>) => void;
  append: (id: string, metrics: StepMetrics[], evals: EvalMetrics[]) => void;
  rename: (id: string, name: string) => void;
  setNotes: (id: string, notes: string) => void;
  remove: (id: string) => void;
  importRecords: (records: RunRecord[]) => number;
  toggleSelected: (id: string) => void;
  setSelected: (ids: string[]) => void;
}

const dirty = new Set<string>();
let timer: ReturnType<typeof setTimeout> | undefined;

function schedulePersist(immediately = false): void {
  if (timer !== undefined && !immediately) return;
  if (timer !== undefined) clearTimeout(timer);
  timer = setTimeout(() => void persistNow(), immediately ? 0 : 2000);
}

export async function persistNow(): Promise<void> {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  const { records } = useRuns.getState();
  const ids = [...dirty];
  dirty.clear();
  const changed = ids.map((id) => records[id]).filter(Boolean);
  try {
    await saveRecords(changed);
    if (useRuns.getState().persistProblem) useRuns.setState({ persistProblem: undefined });
  } catch (error) {
    useRuns.setState({
      persistProblem: isQuotaError(error)
        ? 'Browser storage is full: runs are kept in this tab only and are lost when it closes. Delete or export old runs to make room.'
        : `Runs cannot be saved in this browser (${(error as Error).message}); they are kept in this tab only.`,
    });
  }
}

function markDirty(id: string, immediately = false): void {
  dirty.add(id);
  schedulePersist(immediately);
}

export const useRuns = create<RunsState>((set, get) => ({
  loaded: false,
  records: {},
  order: [],
  selected: [],

  load: async () => {
    let stored: RunRecord[] = [];
    try {
      stored = await loadRecords();
    } catch (error) {
      set({
        persistProblem: `Saved runs could not be read (${(error as Error).message}); runs are kept in this tab only.`,
      });
    }
    const records = { ...get().records };
    const order = [...get().order];
    for (const r of stored) {
      if (records[r.id]) continue;
      // A run that was going when the tab closed: its worker is gone.
      records[r.id] = isActive(r) ? { ...r, phase: 'interrupted' } : r;
      order.push(r.id);
    }
    order.sort((a, b) => records[a].createdAt - records[b].createdAt);
    set({ loaded: true, records, order });
  },

  add: (record) => {
    set((s) => ({
      records: { ...s.records, [record.id]: record },
      order: [...s.order.filter((id) => id !== record.id), record.id],
    }));
    markDirty(record.id, true);
  },

  patch: (id, change) => {
    const r = get().records[id];
    if (!r) return;
    set((s) => ({ records: { ...s.records, [id]: { ...r, ...change } } }));
    markDirty(id, change.phase !== undefined && change.phase !== r.phase);
  },

  append: (id, metrics, evals) => {
    const r = get().records[id];
    if (!r || (metrics.length === 0 && evals.length === 0)) return;
    const step = metrics.length ? metrics[metrics.length - 1].step : r.step;
    set((s) => ({
      records: {
        ...s.records,
        [id]: {
          ...r,
          step: Math.max(step, r.step),
          metrics: metrics.length ? [...r.metrics, ...metrics] : r.metrics,
          evals: evals.length ? [...r.evals, ...evals] : r.evals,
        },
      },
    }));
    markDirty(id);
  },

  rename: (id, name) => {
    get().patch(id, { name: name.trim() || id });
    schedulePersist(true);
  },

  setNotes: (id, notes) => {
    get().patch(id, { notes: notes.trim() ? notes : undefined });
    schedulePersist(true);
  },

  remove: (id) => {
    set((s) => {
      const records = { ...s.records };
      delete records[id];
      return {
        records,
        order: s.order.filter((x) => x !== id),
        selected: s.selected.filter((x) => x !== id),
      };
    });
    dirty.delete(id);
    void deleteRecord(id).catch(() => undefined);
  },

  importRecords: (incoming) => {
    const { records, changed } = mergeImportedRuns(get().records, incoming);
    for (const id of Object.keys(records)) if (records[id] !== get().records[id]) dirty.add(id);
    const order = Object.keys(records).sort((x, y) => records[x].createdAt - records[y].createdAt);
    set({ records, order });
    schedulePersist(true);
    return changed;
  },

  toggleSelected: (id) =>
    set((s) => ({
      selected: s.selected.includes(id) ? s.selected.filter((x) => x !== id) : [...s.selected, id],
    })),
  setSelected: (ids) => set({ selected: ids }),
}));
