/**
 * One training run inside the worker: the loop around Trainer.trainStep, with pause /
 * resume / stop / single-step that take effect between steps, periodic evaluation and
 * checkpoints, and every event streamed to the page through one callback.
 *
 * Settings are fixed for the life of a run (a new run is the only way to change them), so
 * nothing changes mid-run without the page having asked for a new run.
 */
import type { CheckpointStore } from '../training/checkpointStore';
import { ResilientStore } from '../training/checkpointStore';
import { NonFiniteError, type StepMetrics, type Trainer } from '../training/trainer';
import type { PredictionImage } from '../training/predictions';
import { afterStep, submitsNextAfter } from '../training/settings';
import { RecentHistoryLog, recentHistoryKey } from './recentHistory';
import { RunProber } from '../paper/figure4Probe';
import { serializeError, type RunActivity, type RunEventListener, type RunPhase } from './protocol';

export function checkpointKey(runId: string): string {
  return `runs/${runId}/checkpoint.safetensors`;
}

export class TrainingSession {
  private phase: RunPhase = 'paused';
  private loop: Promise<void> | undefined;
  /** Steps, evaluations, predictions and checkpoints share the model's buffers: one at a time. */
  private gpuWork: Promise<unknown> = Promise.resolve();
  private readonly store: ResilientStore;
  /** Metrics since the checkpoint before the last, stored beside each checkpoint (recentHistory.ts). */
  private readonly recent = new RecentHistoryLog();
  /** Probes the trunk every `probeEvery` steps (the paper's Figure 4); none when it is 0. */
  private readonly prober: RunProber | undefined;

  constructor(
    readonly runId: string,
    readonly trainer: Trainer,
    persistent: CheckpointStore,
    private readonly emit: RunEventListener,
  ) {
    this.store = new ResilientStore(persistent, (error) =>
      emit({
        type: 'storage-full',
        runId,
        message: `Browser storage is full (${error.message}); checkpoints are kept in memory from now on and are lost if the tab closes.`,
      }),
    );
    try {
      this.prober =
        (trainer.settings.probeEvery ?? 0) > 0
          ? new RunProber({
              ctx: trainer.ctx,
              config: trainer.config,
              settings: trainer.settings,
              dataset: trainer.dataset,
              downloadParameters: () => trainer.model.downloadParameters(),
            })
          : undefined;
    } catch (error) {
      // The run's data cannot be probed: refused before any step, its GPU memory given back.
      trainer.destroy();
      throw error;
    }
  }

  get status(): { phase: RunPhase; step: number } {
    return { phase: this.phase, step: this.trainer.step };
  }

  /** Starts (or resumes) the loop; returns at once, progress arrives as events. */
  resume(): void {
    if (this.phase === 'running' || this.phase === 'stopped' || this.phase === 'finished') return;
    this.setPhase('running');
    this.loop = this.run();
  }

  /**
   * Takes effect after the step in flight; resolves once the loop has stopped and a
   * checkpoint is saved (so a tab closed while paused resumes exactly here).
   */
  async pause(): Promise<void> {
    if (this.phase !== 'running') return;
    this.setPhase('paused');
    await this.loop;
    // (The step in flight may have finished the run or failed it meanwhile.)
    if ((this.phase as RunPhase) === 'paused') await this.saveCheckpoint();
  }

  /** Runs `work` when no other GPU work of this run is in flight. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.gpuWork.then(work);
    this.gpuWork = result.catch(() => undefined);
    return result;
  }

  /**
   * The model's next-patch predictions, computed between steps (never during one): a step
   * submitted ahead is collected (and reported) first.
   */
  predictions(count: number): Promise<PredictionImage[]> {
    return this.exclusive(async () => {
      if (this.trainer.stepInFlight) await this.stepEvaluateSave({ queueNext: false });
      return this.trainer.predictions(count);
    });
  }

  /** Ends the run after the step in flight and saves a final checkpoint. */
  async stop(): Promise<void> {
    const was = this.phase;
    if (was === 'finished' || was === 'stopped') return;
    this.phase = 'stopped';
    if (was === 'running') await this.loop;
    // A failed run (NaN, lost device) keeps its last good checkpoint; its state now may be bad.
    if (was !== 'failed') await this.saveCheckpoint();
    this.setPhase('stopped');
  }

  /** One step while paused (for stepping through training by hand). */
  async stepOnce(): Promise<StepMetrics | undefined> {
    if (this.phase !== 'paused') return undefined;
    return this.oneStep();
  }

  private setPhase(phase: RunPhase, message?: string): void {
    this.phase = phase;
    this.emit({ type: 'status', runId: this.runId, phase, step: this.trainer.step, message });
  }

  private oneStep(): Promise<StepMetrics | undefined> {
    return this.exclusive(() => this.stepEvaluateSave());
  }

  /**
   * One step reported, then its evaluation, probe and checkpoint when due. `queueNext: false`
   * leaves nothing in flight (a state reader waits behind it).
   */
  private async stepEvaluateSave(
    opts: { queueNext?: boolean } = {},
  ): Promise<StepMetrics | undefined> {
    const { settings } = this.trainer;
    try {
      const upcoming = this.trainer.step + 1;
      this.announce('step', upcoming);
      // While running, the next step goes to the GPU before this one's results are read —
      // unless something reads the state between the two (evaluation, probe, checkpoint).
      const submitNext =
        opts.queueNext !== false &&
        this.phase === 'running' &&
        submitsNextAfter(settings, upcoming);
      const metrics = await this.trainer.trainStep({ submitNext });
      this.recent.addMetrics(metrics);
      this.emit({ type: 'metrics', runId: this.runId, metrics });
      const next = afterStep(settings, metrics.step, this.trainer.done);
      if (next.evaluate) {
        this.announce('evaluate', metrics.step);
        const evaluation = await this.trainer.evaluate();
        this.recent.addEval(evaluation);
        this.emit({ type: 'eval', runId: this.runId, metrics: evaluation });
        if (next.probe && this.prober) await this.probe(evaluation.step, evaluation.valLoss);
      }
      if (next.checkpoint) await this.saveCheckpoint();
      if (this.trainer.done) this.setPhase('finished');
      return metrics;
    } catch (error) {
      this.phase = 'failed';
      this.emit({
        type: 'error',
        runId: this.runId,
        step: this.trainer.step,
        error: serializeError(error),
      });
      const message =
        error instanceof NonFiniteError
          ? `Training stopped at step ${error.step}: ${error.tensor} became NaN or infinite. The parameters are those of the last good step; lower the learning rate and start again.`
          : (error as Error).message;
      this.setPhase('failed', message);
      return undefined;
    }
  }

  /** Both probes on the trunk of `step`; the run waits (it is between two steps). */
  private async probe(step: number, valLoss: number): Promise<void> {
    this.announce('probe', step);
    const say = (message: string) =>
      this.emit({ type: 'probing', runId: this.runId, step, message });
    say('computing the features');
    const point = await this.prober!.probe(step, valLoss, (p) =>
      say(
        p.phase === 'features'
          ? `features of ${p.total} images`
          : p.phase === 'train'
            ? `probe epoch ${p.epoch} of ${p.epochs}`
            : `testing on the ${p.split} images`,
      ),
    );
    this.recent.addProbe(point);
    this.emit({ type: 'probe', runId: this.runId, point });
  }

  private async run(): Promise<void> {
    // A pause or stop takes effect after the step in flight: it is collected and reported.
    while ((this.phase === 'running' || this.trainer.stepInFlight) && !this.trainer.done) {
      await this.oneStep();
      // Let the page's messages (pause, stop) in between steps.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  private announce(activity: RunActivity, step: number): void {
    this.emit({ type: 'activity', runId: this.runId, activity, step });
  }

  async saveCheckpoint(): Promise<void> {
    this.announce('checkpoint', this.trainer.step);
    // The history first: a checkpoint on disk always has its steps' metrics beside it.
    await this.store.put(recentHistoryKey(this.runId), this.recent.snapshot(this.trainer.step));
    await this.store.put(checkpointKey(this.runId), await this.trainer.checkpoint());
    this.emit({
      type: 'checkpoint',
      runId: this.runId,
      step: this.trainer.step,
      store: this.store.kind,
    });
  }
}
