/**
 * What crosses between the page and the training worker: plain, structured-cloneable data.
 * The worker's API (./api.ts) and the page's stores both import these types from here, so
 * neither side reaches into the other's implementation for them.
 */
import type { LoadReport, RgbImages } from '../data/dataset';
import type { ProbePoint } from '../paper/figure4Points';
import type { StoreKind } from '../training/checkpointStore';
import type { RecentHistory } from './recentHistory';
import type { EvalMetrics, StepMetrics } from '../training/trainer';

export interface SerializedError {
  name: string;
  message: string;
  /** What the user can do about it, when we know. */
  remedy?: string;
}

/** An error as the page shows it (ErrorNotice); `remedy` survives the worker boundary (./errorTransfer.ts). */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const remedy = (error as { remedy?: unknown }).remedy;
    return {
      name: error.name,
      message: error.message,
      remedy: typeof remedy === 'string' ? remedy : undefined,
    };
  }
  return { name: 'Error', message: String(error) };
}

export type DeviceLostListener = (error: SerializedError) => void;

export type DatasetChoice =
  { kind: 'fashion-mnist' } | { kind: 'procedural'; size?: number } | { kind: 'user'; id: string };

export interface UserDataInput {
  kind: 'folder' | 'zip' | 'cifar';
  files: { path: string; bytes: Uint8Array }[];
  /** Side of the stored images (the model resolution or larger). */
  storeSize: number;
}

export interface DatasetSummary {
  id: string;
  name: string;
  classes: readonly string[];
  train: number;
  val: number;
  report: LoadReport;
}

export type RunPhase = 'running' | 'paused' | 'stopped' | 'finished' | 'failed';

export type RunEvent =
  | { type: 'status'; runId: string; phase: RunPhase; step: number; message?: string }
  | { type: 'building'; runId: string; compiled: number; requested: number }
  /**
   * What the worker begins now, so the page can show progress within a step (a step of a big
   * model on a software adapter takes minutes, and a step is one GPU submission: there is
   * nothing finer to report than when it began). `step` is the step being computed or just
   * completed (evaluate, checkpoint).
   */
  | { type: 'activity'; runId: string; activity: RunActivity; step: number }
  | { type: 'metrics'; runId: string; metrics: StepMetrics }
  | { type: 'eval'; runId: string; metrics: EvalMetrics }
  /** Probes are training on the trunk of `step` (training waits); then their point. */
  | { type: 'probing'; runId: string; step: number; message: string }
  | { type: 'probe'; runId: string; point: ProbePoint }
  | { type: 'checkpoint'; runId: string; step: number; store: StoreKind }
  | { type: 'storage-full'; runId: string; message: string }
  | { type: 'error'; runId: string; step: number; error: SerializedError };

export type RunActivity = 'step' | 'evaluate' | 'checkpoint' | 'probe';

export type RunEventListener = (event: RunEvent) => void;

export interface RunInfo {
  runId: string;
  step: number;
  parameters: number;
  gpuBytes: number;
  dataset: DatasetSummary;
  resumed: boolean;
  /** A resumed run's metrics of its last checkpoint intervals (fills what the page missed). */
  recent?: RecentHistory;
}

/**
 * Labelled images as the dataset stores them (the inference tab's k-NN probe): raw RGB, so
 * that the probe puts its bank and held-out images through the very preprocessing a
 * classified picture gets (ml-aim's evaluation transform, src/inference/classify.ts).
 */
export interface LabelledSample {
  name: string;
  classes: readonly string[];
  train: RgbImages;
  val: RgbImages;
}
