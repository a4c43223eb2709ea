/**
 * The worker's API, exposed to the page through comlink. It owns the worker's GPU device;
 * later the trainer lives behind this same object.
 */
import { evalBatch } from '../data/batch';
import { GpuContext } from '../gpu/context';
import type { GpuDeviceLostError } from '../gpu/errors';
import {
  checkMatmul,
  runSeededMatmul,
  type MatmulCheckRequest,
  type MatmulCheckResult,
} from '../diagnostics/matmulCheck';
import { bundledShaderSource } from '../gpu/shaderSource.browser';
import { KERNEL_CASES, kernelCase, type CaseData } from '../diagnostics/kernelCases';
import { openPersistentStore, type CheckpointStore } from '../training/checkpointStore';
import { parameterCount } from '../model/config';
import { modelConfigFor, type RunSettings } from '../training/settings';
import { Trainer } from '../training/trainer';
import type { PredictionImage } from '../training/predictions';
import {
  DatasetRegistry,
  summarize,
  type DatasetChoice,
  type DatasetSummary,
  type UserDataInput,
} from './datasets';
import { serializeError, type GpuProbeResult, type SerializedError } from './protocol';
import {
  checkpointKey,
  TrainingSession,
  type RunEventListener,
  type RunPhase,
} from './trainingSession';

export interface RunInfo {
  runId: string;
  step: number;
  parameters: number;
  gpuBytes: number;
  dataset: DatasetSummary;
  resumed: boolean;
}

export interface LabelledSample {
  name: string;
  classes: readonly string[];
  size: number;
  train: { images: Float32Array; labels: Uint16Array; count: number };
  val: { images: Float32Array; labels: Uint16Array; count: number };
}

export type DeviceLostListener = (error: SerializedError) => void;

export class PlaygroundWorkerApi {
  private ctx: Promise<GpuContext> | undefined;
  private lostListeners: DeviceLostListener[] = [];
  private session: TrainingSession | undefined;
  private store: Promise<CheckpointStore> | undefined;
  private readonly datasets = new DatasetRegistry(
    new URL(import.meta.env.BASE_URL, self.location.href).href,
  );

  private context(): Promise<GpuContext> {
    this.ctx ??= GpuContext.create({
      shaderSource: bundledShaderSource,
      onDeviceLost: (error: GpuDeviceLostError) => {
        // A lost device cannot be reused: the next call creates a fresh one.
        this.ctx = undefined;
        for (const listener of this.lostListeners) listener(serializeError(error));
      },
    });
    this.ctx.catch(() => (this.ctx = undefined));
    return this.ctx;
  }

  /** Creates the device (if needed) and reports what the adapter offers, or why there is none. */
  async probe(): Promise<GpuProbeResult> {
    try {
      return { ok: true, capabilities: (await this.context()).capabilities };
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  }

  /** Register a callback (a comlink proxy) for device loss. */
  onDeviceLost(listener: DeviceLostListener): void {
    this.lostListeners.push(listener);
  }

  async checkMatmul(req: MatmulCheckRequest): Promise<MatmulCheckResult> {
    return checkMatmul(await this.context(), req);
  }

  /** The raw product for seeded inputs, so a test can verify it independently. */
  async runSeededMatmul(req: MatmulCheckRequest): Promise<{ c: Float32Array; ms: number }> {
    return runSeededMatmul(await this.context(), req);
  }

  /** Names of the kernel cases this build can run (see src/diagnostics/kernelCases.ts). */
  kernelCaseNames(): string[] {
    return KERNEL_CASES.map((c) => c.name);
  }

  /** Runs one kernel case on this worker's device and returns its raw outputs. */
  async runKernelCase(name: string): Promise<CaseData> {
    const c = kernelCase(name);
    return c.run(await this.context(), c.inputs());
  }

  private checkpointStore(): Promise<CheckpointStore> {
    this.store ??= openPersistentStore();
    return this.store;
  }

  /**
   * Starts a training run (stopping any current one). With `resume`, continues from the run's
   * last checkpoint in browser storage. Progress arrives through `listener` (a comlink proxy).
   */
  async startRun(
    runId: string,
    settings: RunSettings,
    dataset: DatasetChoice,
    listener: RunEventListener,
    opts: { resume?: boolean; start?: boolean } = {},
  ): Promise<RunInfo> {
    await this.session?.stop();
    this.session?.trainer.destroy();
    this.session = undefined;
    const ctx = await this.context();
    const data = await this.datasets.get(dataset);
    const store = await this.checkpointStore();
    const checkpoint = opts.resume ? await store.get(checkpointKey(runId)) : undefined;
    if (opts.resume && !checkpoint)
      throw new Error(`no checkpoint of run ${runId} in this browser's storage`);
    const trainer = await Trainer.create(ctx, settings, data, { checkpoint });
    this.session = new TrainingSession(runId, trainer, store, listener);
    if (opts.start ?? true) this.session.resume();
    return {
      runId,
      step: trainer.step,
      parameters: parameterCount(modelConfigFor(settings)).total,
      gpuBytes: trainer.model.bytes,
      dataset: summarize(dataset.kind, data),
      resumed: Boolean(checkpoint),
    };
  }

  async pauseRun(): Promise<void> {
    await this.session?.pause();
  }

  resumeRun(): void {
    this.session?.resume();
  }

  async stopRun(): Promise<void> {
    await this.session?.stop();
  }

  async stepRun(): Promise<void> {
    await this.session?.stepOnce();
  }

  /** The current run's next-patch predictions for the first `count` validation images. */
  async runPredictions(count: number): Promise<PredictionImage[]> {
    if (!this.session) throw new Error('no run: start one first');
    return this.session.predictions(count);
  }

  runStatus(): { runId: string; phase: RunPhase; step: number } | undefined {
    return this.session && { runId: this.session.runId, ...this.session.status };
  }

  /** Run ids that have a checkpoint in this browser's storage. */
  async savedRuns(): Promise<string[]> {
    const keys = await (await this.checkpointStore()).list('runs/');
    return keys.filter((k) => k.endsWith('/checkpoint.safetensors')).map((k) => k.split('/')[1]);
  }

  async loadUserDataset(input: UserDataInput): Promise<DatasetSummary> {
    return this.datasets.loadUser(input);
  }

  /** Simulates a device loss (diagnostics and tests of the recovery path). */
  async loseDevice(): Promise<void> {
    (await this.context()).device.destroy();
  }

  // ── Added for the playground UI's runs table (src/ui/RunsView.tsx) ──────────────────────

  /** Deletes a run's checkpoint from this browser's storage (the runs table's Delete). */
  async deleteSavedRun(runId: string): Promise<void> {
    if (this.session?.runId === runId) {
      // Unload it first, or stopping it later would save the checkpoint again.
      await this.session.stop();
      this.session.trainer.destroy();
      this.session = undefined;
    }
    await (await this.checkpointStore()).delete(checkpointKey(runId));
  }

  /**
   * Labelled images of a dataset, evaluated as the trainer evaluates them (resized to `size`,
   * ImageNet-normalised NCHW), for the Inference tab's k-NN probe of a run's checkpoint: the
   * first `trainCount` training and `valCount` validation images (a fixed, reproducible set).
   */
  async labelledSample(
    dataset: DatasetChoice,
    size: number,
    trainCount: number,
    valCount: number,
  ): Promise<LabelledSample> {
    const data = await this.datasets.get(dataset);
    const take = (set: typeof data.train, n: number) => {
      const count = Math.min(n, set.count);
      const batch = evalBatch(
        set,
        Uint32Array.from({ length: count }, (_, i) => i),
        size,
      );
      return { images: batch.images, labels: Uint16Array.from(batch.labels), count };
    };
    return {
      name: data.name,
      classes: data.classes,
      size,
      train: take(data.train, trainCount),
      val: take(data.val, valCount),
    };
  }

  /** A run's last checkpoint (safetensors bytes), for download; undefined when none is stored. */
  async savedCheckpoint(runId: string): Promise<Uint8Array | undefined> {
    return (await this.checkpointStore()).get(checkpointKey(runId));
  }
}
