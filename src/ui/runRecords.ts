/**
 * What the page keeps about a run: its configuration, every metric the worker streamed, and
 * where it stands. Checkpoints are not here (they live in the worker's OPFS store under the
 * same run id); this record is what the runs table, the charts and the exports read.
 */
import type { Ordering } from '../model/orderings';
import type { StoreKind } from '../training/checkpointStore';
import { PRESETS, type PresetName } from '../model/config';
import {
  DEFAULT_SETTINGS,
  defaultsFor,
  SETTING_KEYS,
  SETTINGS_SCHEMA,
  type RunSettings,
} from '../training/settings';
import type { EvalMetrics, StepMetrics } from '../training/trainer';
import type { DatasetChoice } from '../worker/protocol';
import type { SerializedError } from '../worker/protocol';
import type { RunActivity, RunPhase } from '../worker/protocol';
import { RUN_PALETTE } from './charts/chartData';
import { isProbePoint, type ProbePoint } from '../paper/figure4Points';

/**
 * 'starting': building the model; 'interrupted': the tab closed while the run was going
 * (a reload offers to resume it from its last checkpoint).
 */
export type RecordPhase = RunPhase | 'starting' | 'interrupted';

export interface RunRecord {
  id: string;
  name: string;
  createdAt: number;
  colour: string;
  settings: RunSettings;
  dataset: DatasetChoice;
  datasetName?: string;
  phase: RecordPhase;
  step: number;
  metrics: StepMetrics[];
  evals: EvalMetrics[];
  parameters?: number;
  gpuBytes?: number;
  /** The last message the worker gave with a status (why it failed, for instance). */
  message?: string;
  error?: SerializedError;
  checkpointStep?: number;
  /** While the model is built: pipelines compiled, and asked for so far. */
  building?: { compiled: number; requested: number };
  /** What the worker began last, and when (page clock, ms): progress within a step (stepActivity.ts). */
  activity?: { kind: RunActivity; step: number; since: number };
  checkpointStore?: StoreKind;
  /** Set when browser storage filled up: the run goes on, its checkpoints in memory. */
  storageFull?: string;
  /** The user's own notes on the run (the Runs table edits them; exports carry them). */
  notes?: string;
  /** The adapter it trained on (stepEstimate.ts `adapterKey`): its step times say what this GPU does. */
  adapter?: string;
  /** The comparison this run belongs to, and its ordering there. */
  compare?: { id: string; ordering: Ordering };
  /** Probe evaluations on the way (setting "Probe every"; the paper's Figure 4), in step order. */
  probes?: ProbePoint[];
  /** While the probes train on the trunk of `step` (training waits): what they are doing. */
  probing?: { step: number; message: string };
}

export const ACTIVE_PHASES: readonly RecordPhase[] = ['starting', 'running', 'paused'];

export function isActive(r: RunRecord): boolean {
  return ACTIVE_PHASES.includes(r.phase);
}

export function newRunId(): string {
  const random = Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0');
  return `run-${Date.now().toString(36)}-${random}`;
}

export function colourFor(index: number): string {
  return RUN_PALETTE[index % RUN_PALETTE.length];
}

export function datasetLabel(d: DatasetChoice): string {
  return d.kind === 'fashion-mnist'
    ? 'Fashion-MNIST'
    : d.kind === 'procedural'
      ? 'procedural'
      : `your files (${d.id})`;
}

/**
 * The run the Inference tab offers first, of those with a checkpoint (oldest first): the run
 * the Train tab shows, else the newest finished one, else the newest — never simply the last
 * row, which may be a failed or barely started run.
 */
export function defaultInferenceRun(
  runs: readonly RunRecord[],
  activeRunId: string | undefined,
): RunRecord | undefined {
  const active = runs.find((r) => r.id === activeRunId);
  if (active) return active;
  const newestFirst = [...runs].sort((a, b) => b.createdAt - a.createdAt);
  return newestFirst.find((r) => r.phase === 'finished') ?? newestFirst[0];
}

/**
 * One line naming a run and what it trained — what an exported chart's caption says, so a
 * PNG on a slide still tells which run and settings it shows.
 */
export function runCaption(r: Pick<RunRecord, 'name' | 'settings' | 'dataset' | 'step'>): string {
  const s = r.settings;
  return [
    r.name,
    `${s.preset}, ${s.ordering} ordering, ${s.prefix ? 'prefix' : 'causal'} attention`,
    `batch ${s.batch}, lr ${s.lr}, ${r.step} of ${s.steps} steps, seed ${s.seed}`,
    datasetLabel(r.dataset),
  ].join(' · ');
}

/** The caption of a chart overlaying several runs. */
export function runsCaption(runs: readonly Pick<RunRecord, 'name'>[]): string {
  const names = runs.map((r) => r.name);
  const shown = names.slice(0, 4).join(', ');
  return names.length > 4 ? `${shown} and ${names.length - 4} more` : shown;
}

/**
 * For each run, the settings in which the runs differ (`lr=0.0005`), so a table of many runs
 * shows at a glance what each one changed. Settings equal across all runs are left out.
 */
export function configDifferences(runs: readonly RunRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>(runs.map((r) => [r.id, []]));
  if (runs.length < 2) return out;
  for (const key of SETTING_KEYS) {
    // How often a run was evaluated or checkpointed does not change what it learned.
    if (SETTINGS_SCHEMA[key].bookkeeping) continue;
    const values = new Set(runs.map((r) => String(r.settings[key])));
    if (values.size < 2) continue;
    for (const r of runs) out.get(r.id)!.push(`${key}=${String(r.settings[key])}`);
  }
  const datasets = new Set(runs.map((r) => datasetLabel(r.dataset)));
  if (datasets.size > 1)
    for (const r of runs) out.get(r.id)!.push(`data=${datasetLabel(r.dataset)}`);
  return out;
}

/**
 * Imported records merged into the kept ones. The same run (same id and creation time) is
 * one row however often it is exported and imported: the copy that got further wins, and a
 * run going on here is never replaced. Another run that happens to share an id gets a new id.
 * Returns the merged records and the number of rows added or updated.
 */
export function mergeImportedRuns(
  records: Readonly<Record<string, RunRecord>>,
  incoming: readonly RunRecord[],
): { records: Record<string, RunRecord>; changed: number } {
  const out = { ...records };
  let changed = 0;
  for (const r of incoming) {
    const existing = out[r.id];
    if (existing && existing.createdAt === r.createdAt) {
      if (isActive(existing) || r.step <= existing.step) continue;
      out[r.id] = { ...r };
      changed++;
      continue;
    }
    let id = r.id;
    for (let n = 1; out[id]; n++) id = `${r.id}-imported-${n}`;
    out[id] = { ...r, id };
    changed++;
  }
  return { records: out, changed };
}

/** `base`, or `base (2)`, `base (3)`… — the first that no kept run is named. */
export function uniqueRunName(base: string, records: Readonly<Record<string, RunRecord>>): string {
  const taken = new Set(Object.values(records).map((r) => r.name));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base} (${n})`)) return `${base} (${n})`;
}

export interface RunsExport {
  format: 'aim-playground-runs';
  version: 1;
  exportedAt: string;
  runs: RunRecord[];
}

export function exportRuns(runs: readonly RunRecord[]): RunsExport {
  return {
    format: 'aim-playground-runs',
    version: 1,
    exportedAt: new Date().toISOString(),
    runs: [...runs],
  };
}

/** Reads an export (one run or many); throws a sentence the page can show when it is not one. */
export function parseRunsExport(text: string): RunRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error('This file is not JSON, so it is not a runs export.');
  }
  const d = data as Partial<RunsExport>;
  if (d?.format !== 'aim-playground-runs' || !Array.isArray(d.runs))
    throw new Error('This JSON file is not an AIM Playground runs export.');
  return d.runs.map((r, i) => {
    if (
      typeof r?.id !== 'string' ||
      typeof r.settings !== 'object' ||
      !Array.isArray(r.metrics) ||
      !Array.isArray(r.evals)
    )
      throw new Error(`Run ${i + 1} in this file is incomplete (id, settings or metrics missing).`);
    const preset: unknown = (r.settings as Partial<RunSettings>).preset;
    const known = typeof preset === 'string' && preset in PRESETS;
    return {
      ...r,
      // A run recorded before a setting existed ran with that setting's default.
      settings: {
        ...defaultsFor(known ? (preset as PresetName) : DEFAULT_SETTINGS.preset),
        ...r.settings,
      },
      name: typeof r.name === 'string' ? r.name : r.id,
      // Probe points another version wrote badly are dropped, not drawn as NaN.
      probes: Array.isArray(r.probes) ? r.probes.filter(isProbePoint) : undefined,
      probing: undefined,
      // An imported run cannot be running here: it was trained elsewhere.
      phase: isActive(r) || r.phase === 'interrupted' ? 'stopped' : r.phase,
    };
  });
}
