/**
 * The training worker's API, exposed to the page through comlink: the GPU probe, training
 * runs, datasets, stored checkpoints and the GPU tab's self-test. Methods throw; the page's
 * promise rejects with the same message and remedy (./errorTransfer.ts). Test-only calls
 * live apart, in src/diagnostics/, and exist only in the test build.
 */
import type { GpuCapabilities } from '../gpu/capabilities';
import type { GpuRate } from '../training/gpuRate';
import { selectImages } from '../data/dataset';
import type { MatmulCheckRequest, MatmulCheckResult } from '../diagnostics/selfTestShapes';
import { openPersistentStore, type CheckpointStore } from '../training/checkpointStore';
import { parameterCount } from '../model/config';
import { modelConfigFor, type RunSettings } from '../training/settings';
import { Trainer } from '../training/trainer';
import type { PredictionImage } from '../training/predictions';
import { DatasetRegistry, summarize } from './datasets';
import type {
  DatasetChoice,
  DatasetSummary,
  DeviceLostListener,
  LabelledSample,
  RunEventListener,
  RunInfo,
  RunPhase,
  UserDataInput,
} from './protocol';
import type { QueryAttentionRequest, QueryAttentionResult } from './queryAttention';
import { checkpointKey, TrainingSession } from './trainingSession';
import { decodeRecentHistory, recentHistoryKey } from './recentHistory';
import { WorkerGpu } from './workerGpu';

export class PlaygroundWorkerApi {
  private session: TrainingSession | undefined;
  private store: Promise<CheckpointStore> | undefined;
  private readonly datasets = new DatasetRegistry(
    new URL(import.meta.env.BASE_URL, self.location.href).href,
  );

  constructor(private readonly gpu: WorkerGpu = new WorkerGpu()) {}

  private context() {
    return this.gpu.context();
  }

  /** Creates the device (if needed) and reports what the adapter offers; throws why there is none. */
  async probe(): Promise<GpuCapabilities> {
    return (await this.context()).capabilities;
  }

  /**
   * What this adapter computes per millisecond (a second or so of matrix products), for the
   * page's time estimate before the first run on this adapter. Refused while a run trains:
   * it would slow the run and measure the sharing.
   */
  async measureGpuRate(): Promise<GpuRate> {
    if (this.session?.status.phase === 'running')
      throw new Error('The GPU is training; its speed is measured from the run instead.');
    const { measureGpuRate } = await import('../training/gpuRate');
    return measureGpuRate(await this.context());
  }

  /** Register a callback (a comlink proxy) for device loss. */
  onDeviceLost(listener: DeviceLostListener): void {
    this.gpu.onDeviceLost(listener);
  }

  /**
   * One shape of the GPU tab's self-test. The check and its float64 reference load only
   * when a user runs it: a chunk of their own, not part of the worker's start-up.
   */
  async checkMatmul(req: MatmulCheckRequest): Promise<MatmulCheckResult> {
    const { checkMatmul } = await import('../diagnostics/matmulCheck');
    return checkMatmul(await this.context(), req);
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
    // The first build on a device compiles every pipeline (tens of seconds on a software
    // adapter): report each one, so the page can show the build's progress.
    const stopWatching = ctx.kernels.watchCompiles(({ compiled, requested }) =>
      listener({ type: 'building', runId, compiled, requested }),
    );
    let trainer: Trainer;
    try {
      trainer = await Trainer.create(ctx, settings, data, { checkpoint });
    } finally {
      stopWatching();
    }
    this.session = new TrainingSession(runId, trainer, store, listener);
    if (opts.start ?? true) this.session.resume();
    return {
      runId,
      step: trainer.step,
      parameters: parameterCount(modelConfigFor(settings)).total,
      gpuBytes: trainer.model.bytes,
      dataset: summarize(dataset.kind, data),
      resumed: Boolean(checkpoint),
      recent: checkpoint
        ? decodeRecentHistory(await store.get(recentHistoryKey(runId)), trainer.step)
        : undefined,
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

  /** Deletes a run's checkpoint from this browser's storage (the runs table's Delete). */
  async deleteSavedRun(runId: string): Promise<void> {
    if (this.session?.runId === runId) {
      // Unload it first, or stopping it later would save the checkpoint again.
      await this.session.stop();
      this.session.trainer.destroy();
      this.session = undefined;
    }
    const store = await this.checkpointStore();
    await store.delete(checkpointKey(runId));
    await store.delete(recentHistoryKey(runId));
  }

  /**
   * Labelled images of a dataset, raw as stored, for the Inference tab's k-NN probe of a run's
   * checkpoint: the first `trainCount` training and `valCount` validation images (a fixed,
   * reproducible set). The probe preprocesses them exactly as it preprocesses a picture to
   * classify, so bank and query see the same transform.
   */
  async labelledSample(
    dataset: DatasetChoice,
    trainCount: number,
    valCount: number,
  ): Promise<LabelledSample> {
    const data = await this.datasets.get(dataset);
    const take = (set: typeof data.train, n: number) =>
      selectImages(
        set,
        Uint32Array.from({ length: Math.min(n, set.count) }, (_, i) => i),
      );
    return {
      name: data.name,
      classes: data.classes,
      train: take(data.train, trainCount),
      val: take(data.val, valCount),
    };
  }

  /**
   * One validation image's attention in one trunk block of a run's checkpoint, every query and
   * head (the Runs tab's query-attention view). The float64 reference loads on first use.
   */
  async queryAttention(req: QueryAttentionRequest): Promise<QueryAttentionResult> {
    const { queryAttentionOfRun } = await import('./queryAttention');
    const checkpoint = await (await this.checkpointStore()).get(checkpointKey(req.runId));
    return queryAttentionOfRun(req, checkpoint, () => this.datasets.get(req.dataset));
  }

  /** A run's last checkpoint (safetensors bytes), for download; undefined when none is stored. */
  async savedCheckpoint(runId: string): Promise<Uint8Array | undefined> {
    return (await this.checkpointStore()).get(checkpointKey(runId));
  }
}
