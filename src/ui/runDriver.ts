/**
 * The page's side of training: starts runs in the worker, routes the worker's events to the
 * run records, and drives pause / resume / stop / step. Step metrics are buffered and handed to
 * the store at most four times a second, so a fast GPU streaming hundreds of steps per second
 * never makes the page redraw more often than that.
 */
import { create } from 'zustand';
import type { RunSettings } from '../training/settings';
import type { EvalMetrics, StepMetrics } from '../training/trainer';
import type { PredictionImage } from '../training/predictions';
import { Comlink, workerApi } from '../worker/client';
import {
  serializeError,
  type DatasetChoice,
  type RunEvent,
  type RunInfo,
  type RunPhase,
  type SerializedError,
} from '../worker/protocol';
import { probesUpTo, withProbePoint } from '../paper/figure4Points';
import { mergeRecentHistory } from '../worker/recentHistory';
import { colourFor, newRunId, uniqueRunName, type RunRecord } from './runRecords';
import { currentAdapterKey } from './stepEstimate';
import { persistNow, useRuns } from './runsStore';

/** The run the Train view controls (the worker trains one run at a time). */
interface SessionState {
  activeRunId?: string;
  /** A command is on its way to the worker (buttons wait for it). */
  busy: boolean;
  /** Pause was pressed; the step in flight is finishing. */
  pausing: boolean;
  commandError?: SerializedError;
}

export const useSession = create<SessionState>(() => ({ busy: false, pausing: false }));

const FLUSH_MS = 250;
interface PendingEvents {
  metrics: StepMetrics[];
  evals: EvalMetrics[];
  activity?: RunRecord['activity'];
}
const pending = new Map<string, PendingEvents>();
let flushTimer: ReturnType<typeof setTimeout> | undefined;
const endWaiters = new Map<string, ((phase: RunPhase) => void)[]>();
const ENDED: readonly RunPhase[] = ['stopped', 'finished', 'failed'];

/** Hands buffered metrics to the store now (before reading a run's step, for instance). */
export function flushRunEvents(): void {
  flush();
}

function flush(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  const { append, patch } = useRuns.getState();
  for (const [id, p] of pending) {
    append(id, p.metrics, p.evals);
    if (p.activity) patch(id, { activity: p.activity });
  }
  pending.clear();
}

function buffer(runId: string): PendingEvents {
  let p = pending.get(runId);
  if (!p) pending.set(runId, (p = { metrics: [], evals: [] }));
  flushTimer ??= setTimeout(flush, FLUSH_MS);
  return p;
}

function onEvent(e: RunEvent): void {
  const { patch } = useRuns.getState();
  switch (e.type) {
    case 'metrics':
      buffer(e.runId).metrics.push(e.metrics);
      return;
    case 'eval':
      buffer(e.runId).evals.push(e.metrics);
      return;
    case 'status': {
      // Metrics first, so a run never shows 'finished' one flush before its last step.
      flush();
      patch(e.runId, { phase: e.phase, step: e.step, message: e.message });
      if (ENDED.includes(e.phase)) {
        for (const resolve of endWaiters.get(e.runId) ?? []) resolve(e.phase);
        endWaiters.delete(e.runId);
      }
      return;
    }
    case 'checkpoint':
      // Persist the metrics up to the checkpoint with it: a resume after a reload starts there.
      flush();
      patch(e.runId, { checkpointStep: e.step, checkpointStore: e.store });
      void persistNow();
      return;
    case 'activity':
      // Stamped on arrival (the page's clock); buffered like metrics, so a fast GPU's
      // hundreds of steps per second cost at most four store updates a second.
      buffer(e.runId).activity = { kind: e.activity, step: e.step, since: Date.now() };
      return;
    case 'probing':
      patch(e.runId, { probing: { step: e.step, message: e.message } });
      return;
    case 'probe':
      // The evaluation of the same step goes to the record first (it was sent first).
      flush();
      patch(e.runId, {
        probes: withProbePoint(useRuns.getState().records[e.runId]?.probes, e.point),
        probing: undefined,
      });
      return;
    case 'building':
      patch(e.runId, { building: { compiled: e.compiled, requested: e.requested } });
      return;
    case 'storage-full':
      patch(e.runId, { storageFull: e.message });
      return;
    case 'error':
      flush();
      patch(e.runId, { error: e.error });
      return;
  }
}

let listener: ((e: RunEvent) => void) | undefined;
function eventListener() {
  listener ??= Comlink.proxy(onEvent);
  return listener;
}

/** Resolves when the run stops, finishes or fails. */
export function waitForEnd(runId: string): Promise<RunPhase> {
  const r = useRuns.getState().records[runId];
  if (r && ENDED.includes(r.phase as RunPhase)) return Promise.resolve(r.phase as RunPhase);
  return new Promise((resolve) => {
    endWaiters.set(runId, [...(endWaiters.get(runId) ?? []), resolve]);
  });
}

function applyInfo(runId: string, info: RunInfo): void {
  const r = useRuns.getState().records[runId];
  if (!r) return;
  // After a resume the worker restarts from the checkpoint: later metrics are recomputed.
  // What the page missed before the tab closed (the worker's checkpoint was written, the
  // page's record not yet) comes back with the resume.
  const { metrics, evals } = mergeRecentHistory(r, info.recent, info.step);
  let probes = probesUpTo(r.probes, info.step);
  for (const p of info.recent?.probes ?? [])
    if (!probes?.some((q) => q.step === p.step)) probes = withProbePoint(probes, p);
  useRuns.getState().patch(runId, {
    probes,
    probing: undefined,
    parameters: info.parameters,
    gpuBytes: info.gpuBytes,
    datasetName: info.dataset.name,
    metrics,
    evals,
    step: Math.max(info.step, metrics.at(-1)?.step ?? 0),
  });
}

export interface StartOptions {
  name?: string;
  compare?: RunRecord['compare'];
  /** false: build the model and stay paused (for stepping by hand or interleaving). */
  start?: boolean;
  /** Make this the Train view's run. */
  activate?: boolean;
}

/** Creates a record, starts the run in the worker; resolves when the model is built. */
export async function startRun(
  settings: RunSettings,
  dataset: DatasetChoice,
  opts: StartOptions = {},
): Promise<string | undefined> {
  const runs = useRuns.getState();
  const id = newRunId();
  const record: RunRecord = {
    id,
    name: uniqueRunName(
      opts.name ?? `${settings.preset} · ${settings.ordering} · seed ${settings.seed}`,
      runs.records,
    ),
    createdAt: Date.now(),
    colour: colourFor(runs.order.length),
    settings: { ...settings },
    dataset,
    phase: 'starting',
    step: 0,
    metrics: [],
    evals: [],
    compare: opts.compare,
    adapter: currentAdapterKey(),
  };
  runs.add(record);
  if (opts.activate ?? true) useSession.setState({ activeRunId: id });
  try {
    const info = await workerApi().startRun(id, settings, dataset, eventListener(), {
      start: opts.start ?? true,
    });
    applyInfo(id, info);
    if (opts.start === false) useRuns.getState().patch(id, { phase: 'paused' });
    return id;
  } catch (error) {
    const e = serializeError(error);
    useRuns.getState().patch(id, { phase: 'failed', error: e });
    for (const resolve of endWaiters.get(id) ?? []) resolve('failed');
    endWaiters.delete(id);
    return undefined;
  }
}

/** Continues a run from its last checkpoint in this browser (after a reload, a stop, a lost device). */
export async function resumeFromCheckpoint(
  runId: string,
  opts: { start?: boolean; activate?: boolean } = {},
): Promise<boolean> {
  const r = useRuns.getState().records[runId];
  if (!r) return false;
  useRuns.getState().patch(runId, { phase: 'starting', error: undefined, message: undefined });
  if (opts.activate ?? true) useSession.setState({ activeRunId: runId });
  try {
    const info = await workerApi().startRun(runId, r.settings, r.dataset, eventListener(), {
      resume: true,
      start: opts.start ?? true,
    });
    applyInfo(runId, info);
    if (opts.start === false) useRuns.getState().patch(runId, { phase: 'paused' });
    return true;
  } catch (error) {
    useRuns.getState().patch(runId, { phase: 'failed', error: serializeError(error) });
    return false;
  }
}

async function command(fn: () => Promise<void>): Promise<void> {
  useSession.setState({ busy: true, commandError: undefined });
  try {
    await fn();
  } catch (error) {
    useSession.setState({ commandError: serializeError(error) });
  } finally {
    useSession.setState({ busy: false });
  }
}

/** Catches the record up with the worker once a command has taken effect. */
async function syncStatus(): Promise<void> {
  const status = await workerApi().runStatus();
  flush();
  const r = status && useRuns.getState().records[status.runId];
  if (r && status)
    useRuns.getState().patch(r.id, { phase: status.phase, step: Math.max(r.step, status.step) });
}

export const pauseRun = () =>
  command(async () => {
    useSession.setState({ pausing: true });
    try {
      // Resolves once the step in flight has finished and the loop has stopped.
      await workerApi().pauseRun();
      await syncStatus();
    } finally {
      useSession.setState({ pausing: false });
    }
  });
export const resumeRun = () => command(() => workerApi().resumeRun());
export const stopRun = () =>
  command(async () => {
    await workerApi().stopRun();
    await syncStatus();
  });
export const stepRun = () =>
  command(async () => {
    await workerApi().stepRun();
    await syncStatus();
  });

/** Run ids with a checkpoint in this browser's storage (the worker's OPFS store). */
export async function savedRunIds(): Promise<string[]> {
  try {
    return await workerApi().savedRuns();
  } catch {
    return [];
  }
}

/**
 * Deletes a run: its record at once, then its checkpoint in the worker's storage. Rejects
 * (for the runs table to say so) when the checkpoint could not be deleted.
 */
export async function deleteRun(runId: string): Promise<void> {
  useRuns.getState().remove(runId);
  if (useSession.getState().activeRunId === runId) useSession.setState({ activeRunId: undefined });
  try {
    await workerApi().deleteSavedRun(runId);
  } catch (error) {
    throw new Error(
      `The run was removed, but its checkpoint could not be deleted from this browser's storage: ${serializeError(error).message}`,
    );
  }
}

/** A run's last checkpoint (safetensors bytes) from the worker's storage; undefined when none. */
export function savedCheckpoint(runId: string): Promise<Uint8Array | undefined> {
  return workerApi().savedCheckpoint(runId);
}

/** The active run's next-patch predictions for the first `count` validation images. */
export function runPredictions(count: number): Promise<PredictionImage[]> {
  return workerApi().runPredictions(count);
}
