/**
 * The training loop's engine, the same in a Web Worker and in Node (headless runs). One
 * optimizer step, top to bottom:
 *
 *   1. the step's images (EpochSampler) get their random crops and flips drawn on the CPU
 *      (drawTrainParams), and each sample its prefix length S ~ U{1 … K−1} (S = 1 for the
 *      causal baseline) — the RNG stream of the CPU path, unchanged;
 *   2. one GPU submission records the batch's augmentation (src/training/gpuBatches.ts; on
 *      the CPU instead when colour jitter is on or the images exceed the GPU budget), the
 *      model's forward and backward, the global gradient norm and clip scale, AdamW with this
 *      step's learning rate, and the copy of the loss and norm into a reused readback buffer;
 *   3. with `submitNext` (the worker's loop between evaluations and checkpoints), step N+1 is
 *      submitted as well, so the GPU goes from step N straight into N+1 while the host reads
 *      N's results: they are read one step late, and the host work is off the GPU's path;
 *   4. while the GPU runs, the next step's draws (and, on the CPU path, its pixels) are made;
 *   5. step N's loss and gradient norm are read back; a NaN/Inf stops the run. AdamW has
 *      skipped the update on the GPU, and every later one (grad_norm.wgsl's halt), so the
 *      parameters are the last good ones even when step N+1 was already queued.
 *
 * The next step's draws are made ahead, so `rng` is then past them: a checkpoint stores the
 * state from before them (`rngStateBefore`), and restoring drops them. Nothing that reads or
 * replaces the state (checkpoint, evaluate, predictions, restore) runs while a step is in
 * flight: the caller collects it first with trainStep().
 */
import type { ImageDataset } from '../data/dataset';
import type { GpuContext } from '../gpu/context';
import { recordDispatch, releaseDispatch, type PreparedDispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { createAdamWStep, prepareAdamW, writeAdamWStep, type AdamWStep } from '../kernels/adamw';
import { prepareGradNorm } from '../kernels/gradNorm';
import { isAimConfig, sameModelConfig, type AimConfig } from '../model/config';
import { allocateOptimizerState } from '../model/allocation';
import { TensorPool } from '../model/gpuBuffers';
import { AimGpuModel } from '../model/gpuModel';
import { runPatchOrder } from '../model/orderings';
import { decodeCheckpoint, encodeCheckpoint, type NamedTensor } from './checkpoint';
import type { PredictionImage } from './predictions';
import { Rng } from './rng';
import { GpuBatches } from './gpuBatches';
import { DeferredErrorScopes, ScalarReadbackRing } from './stepSubmission';
import { StepDraws, type StepInputs } from './stepDraws';
import { Evaluator } from './evaluation';
import { modelConfigFor, validateSettings, type RunSettings } from './settings';

export interface StepMetrics {
  step: number;
  trainLoss: number;
  lr: number;
  gradNorm: number;
  stepMs: number;
  imgPerSec: number;
}

export interface EvalMetrics {
  step: number;
  valLoss: number;
  chunkLoss: number[];
  /**
   * Mean validation loss per sequence position t = 0 … K−2, the position that predicts the
   * ordering's patch t + 1 (the first patch is never predicted), to 4 significant digits.
   * Absent in records made before it existed.
   */
  positionLoss?: number[];
}

/** A step submitted to the GPU whose loss and gradient norm have not been read yet. */
interface SubmittedStep {
  inputs: StepInputs;
  /** The readback slot its loss and gradient norm are copied into. */
  slot: GPUBuffer;
  /** Rejects with a GpuKernelError when the submission failed (stepSubmission.ts). */
  scopes: Promise<void>;
}

/** A NaN or Inf appeared; the run must stop (the last update was skipped on the GPU). */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  constructor(
    readonly step: number,
    /** What went bad: 'loss', 'gradient norm', or the first gradient tensor that is not finite. */
    readonly tensor: string,
  ) {
    super(`step ${step}: ${tensor} is NaN or infinite; the run was stopped before the update`);
  }
}

export class Trainer {
  /** Optimizer steps completed. */
  step = 0;
  private readonly order: number[];
  /** The CPU half of each step (stepDraws.ts): images, crops and flips, prefixes, lr. */
  private readonly draws: StepDraws;
  /** Forward passes on validation images between steps (evaluation.ts). */
  private readonly evaluator: Evaluator;
  private readonly stepDispatches: PreparedDispatch[];
  /** The next step's inputs, drawn while the GPU ran (null: none drawn ahead). */
  private ahead: StepInputs | null = null;
  /** Steps submitted: `step`, or `step + 1` while one is in flight. */
  private submitted = 0;
  /** A step submitted ahead (trainStep's submitNext) whose results trainStep reads next. */
  private inFlight: SubmittedStep | null = null;
  private readonly readback: ScalarReadbackRing;
  private readonly errorScopes: DeferredErrorScopes;

  private constructor(
    readonly ctx: GpuContext,
    readonly settings: RunSettings,
    readonly config: AimConfig,
    readonly dataset: ImageDataset,
    readonly model: AimGpuModel,
    private readonly adamw: { step: AdamWStep; dispatches: PreparedDispatch[] },
    private readonly moments: Map<string, { expAvg: Tensor<'f32'>; expAvgSq: Tensor<'f32'> }>,
    private readonly gradNormDispatches: PreparedDispatch[],
    private readonly scalars: {
      norm: Tensor<'f32'>;
      clipScale: Tensor<'f32'>;
      nonFiniteSteps: Tensor<'u32'>;
    },
    readonly rng: Rng,
    /** The dataset on the GPU, or null: batches are assembled on the CPU. */
    private readonly gpuBatches: GpuBatches | null,
  ) {
    // The ordering alone decides the permutation: the run's seed never changes "random".
    this.order = runPatchOrder(settings, config);
    this.draws = new StepDraws(settings, config, dataset, rng, gpuBatches !== null);
    this.evaluator = new Evaluator(ctx, settings, config, dataset, model, this.order, gpuBatches);
    this.readback = new ScalarReadbackRing(ctx.device, 2);
    this.errorScopes = new DeferredErrorScopes(ctx.device);
    this.stepDispatches = [
      ...(gpuBatches?.dispatches ?? []),
      ...model.forwardDispatches,
      ...model.backwardDispatches,
      ...gradNormDispatches,
      ...adamw.dispatches,
    ];
  }

  /** Builds the model, optimizer and step for `settings`; initialises from the seed or a checkpoint. */
  static async create(
    ctx: GpuContext,
    settings: RunSettings,
    dataset: ImageDataset,
    opts: {
      checkpoint?: Uint8Array;
      /** Where batches are assembled: 'gpu' (the default) where it can be, else the CPU. */
      batches?: 'gpu' | 'cpu';
    } = {},
  ): Promise<Trainer> {
    const problems = validateSettings(settings);
    if (problems.length) throw new RangeError(problems.join(' '));
    const config = modelConfigFor(settings);
    const model = await AimGpuModel.create(ctx, config, settings.batch);
    // Freed one by one in destroy(); memory.ts counts the same walk.
    const { moments, norm, clipScale, nonFiniteSteps } = allocateOptimizerState(
      new TensorPool(ctx),
      model.specs,
    );
    const gradNormDispatches = await prepareGradNorm(
      ctx,
      { grads: model.specs.map((s) => model.gradient(s.name)), norm, clipScale, nonFiniteSteps },
      { maxNorm: settings.clipNorm, haltAfterNonFinite: true },
    );
    const adamwStep = createAdamWStep(ctx);
    const adamw = {
      step: adamwStep,
      dispatches: await prepareAdamW(ctx, {
        params: model.specs.map((spec) => ({
          param: model.parameter(spec.name),
          grad: model.gradient(spec.name),
          ...moments.get(spec.name)!,
          weightDecay: spec.decay ? settings.weightDecay : 0,
        })),
        step: adamwStep,
        clipScale,
      }),
    };
    // Colour jitter's HSV rounding has no exact f32 form on the GPU (gpuBatches.ts).
    const gpuBatches =
      settings.colorJitter || opts.batches === 'cpu'
        ? null
        : await GpuBatches.create(
            ctx,
            dataset,
            config.imageSize,
            settings.batch,
            model.inputs.images,
          );
    const trainer = new Trainer(
      ctx,
      settings,
      config,
      dataset,
      model,
      adamw,
      moments,
      gradNormDispatches,
      { norm, clipScale, nonFiniteSteps },
      new Rng(settings.seed),
      gpuBatches,
    );
    if (opts.checkpoint) await trainer.restore(opts.checkpoint);
    else {
      const { initParameters } = await import('../model/params');
      model.uploadParameters(initParameters(config, settings.seed));
    }
    return trainer;
  }

  get done(): boolean {
    return this.step >= this.settings.steps;
  }

  /** A step was submitted ahead and its results are not read yet (trainStep collects it). */
  get stepInFlight(): boolean {
    return this.inFlight !== null;
  }

  /** Every dispatch one step submits, in order (benchmarks time exactly this). */
  get dispatches(): readonly PreparedDispatch[] {
    return this.stepDispatches;
  }

  /** Bytes of the dataset on the GPU (images, augmentation tables and records); 0 on the CPU path. */
  get dataBytes(): number {
    return this.gpuBatches?.bytes ?? 0;
  }

  /** Bytes of the optimizer state (AdamW moments) and the step's scalars. */
  get optimizerBytes(): number {
    const { norm, clipScale, nonFiniteSteps } = this.scalars;
    let bytes = norm.byteLength + clipScale.byteLength + nonFiniteSteps.byteLength;
    for (const m of this.moments.values()) bytes += m.expAvg.byteLength + m.expAvgSq.byteLength;
    return bytes;
  }

  /** `step`'s inputs: those drawn ahead, or drawn now. */
  private inputsFor(step: number): StepInputs {
    const inputs = this.ahead?.step === step ? this.ahead : this.draws.draw(step);
    this.ahead = null;
    return inputs;
  }

  /** Writes a step's inputs and learning rate (queued behind any step already submitted). */
  private writeInputs(inputs: StepInputs): void {
    if (inputs.augment instanceof Float32Array) {
      this.model.setInputs(inputs.augment, this.order, inputs.prefix);
    } else {
      this.gpuBatches!.writeTrain(inputs.indices, inputs.augment);
      this.model.setInputs(null, this.order, inputs.prefix);
    }
    writeAdamWStep(this.ctx, this.adamw.step, inputs.step + 1, inputs.lr);
  }

  /**
   * The next step's inputs written to the GPU (drawn now, or taken from those drawn ahead)
   * and its learning rate set, without submitting it (the step profile times this). Returns
   * the learning rate.
   */
  loadStep(): number {
    const inputs = this.inputsFor(this.submitted);
    this.writeInputs(inputs);
    return inputs.lr;
  }

  /** Writes a step's inputs and submits the whole step in one command buffer. */
  private submitStep(inputs: StepInputs = this.inputsFor(this.submitted)): SubmittedStep {
    this.writeInputs(inputs);
    let slot: GPUBuffer | undefined;
    const scopes = this.errorScopes.submit(`training step ${inputs.step + 1}`, (encoder) => {
      const pass = encoder.beginComputePass({ label: 'training step' });
      for (const dispatch of this.stepDispatches) recordDispatch(pass, dispatch);
      pass.end();
      slot = this.readback.record(encoder, [this.model.outputs.loss, this.scalars.norm]);
    });
    this.submitted = inputs.step + 1;
    return { inputs, slot: slot!, scopes };
  }

  /**
   * One optimizer step (see the header): submits it unless it is in flight already, with
   * `submitNext` also the step after it, and returns its metrics once read. Throws
   * NonFiniteError without updating on NaN/Inf.
   */
  async trainStep(opts: { submitNext?: boolean } = {}): Promise<StepMetrics> {
    const started = performance.now();
    const { batch, steps } = this.settings;
    const current = this.inFlight ?? this.submitStep();
    this.inFlight = null;
    if (opts.submitNext && this.submitted < steps) this.inFlight = this.submitStep();
    // The GPU runs while the CPU draws the step after the last one submitted.
    if (this.submitted < steps && this.ahead?.step !== this.submitted)
      this.ahead = this.draws.draw(this.submitted);
    let trainLoss: number;
    let gradNorm: number;
    try {
      [[trainLoss, gradNorm]] = await Promise.all([
        this.readback.read(current.slot),
        current.scopes,
      ]);
    } catch (error) {
      this.abandonInFlight();
      throw error;
    }
    if (!Number.isFinite(trainLoss) || !Number.isFinite(gradNorm))
      throw await this.nonFinite(current, trainLoss);
    this.step++;
    const stepMs = performance.now() - started;
    const lr = current.inputs.lr;
    return { step: this.step, trainLoss, lr, gradNorm, stepMs, imgPerSec: (batch * 1000) / stepMs };
  }

  /**
   * The error for a step whose loss or gradient norm came back NaN/Inf, naming the first
   * gradient that is not finite. A step submitted after it has run since (its update
   * skipped: the halt) and replaced its gradients, so the bad step runs again — the same
   * parameters, the same inputs, its update skipped as well — before the gradients are read.
   */
  private async nonFinite(current: SubmittedStep, trainLoss: number): Promise<NonFiniteError> {
    let tensor = 'loss';
    if (Number.isFinite(trainLoss)) {
      if (this.inFlight) {
        // Queued behind the step after it, so its readback waits for that one too.
        const again = this.submitStep(current.inputs);
        await Promise.all([this.readback.read(again.slot), again.scopes]);
      }
      tensor = await this.firstNonFiniteGradient();
    }
    this.abandonInFlight();
    return new NonFiniteError(this.step, tensor);
  }

  /**
   * After a failed step: nothing in flight, nothing drawn ahead, and the RNG back before the
   * draws of the steps after it (as the serial loop leaves it, whatever was queued).
   */
  private abandonInFlight(): void {
    const firstUnused = this.inFlight?.inputs ?? this.ahead;
    if (firstUnused) this.rng.setState(firstUnused.rngStateBefore);
    this.inFlight = null;
    this.ahead = null;
    this.submitted = this.step;
  }

  private requireSettled(what: string): void {
    if (this.inFlight)
      throw new Error(
        `Trainer.${what}: step ${this.submitted} is in flight; collect it with trainStep() first`,
      );
  }

  /**
   * Validation loss, per-chunk and per-position loss over the first `evalImages` validation
   * images, in the causal setting (S = 1: every target counts). No augmentation, no parameter change.
   */
  async evaluate(): Promise<EvalMetrics> {
    this.requireSettled('evaluate');
    return { step: this.step, ...(await this.evaluator.evaluate()) };
  }

  /**
   * The model's next-patch predictions for the first `count` validation images, as pixels
   * (causal setting, S = 1; see predictions.ts for the un-normalisation).
   */
  async predictions(count: number): Promise<PredictionImage[]> {
    this.requireSettled('predictions');
    return this.evaluator.predictions(count);
  }

  /** Parameters, AdamW moments, step, RNG and configuration as one safetensors file. */
  async checkpoint(): Promise<Uint8Array> {
    this.requireSettled('checkpoint');
    const params = new Map<string, NamedTensor>();
    const expAvg = new Map<string, NamedTensor>();
    const expAvgSq = new Map<string, NamedTensor>();
    for (const spec of this.model.specs) {
      const m = this.moments.get(spec.name)!;
      params.set(spec.name, {
        shape: spec.shape,
        data: await this.model.downloadParameter(spec.name),
      });
      expAvg.set(spec.name, { shape: spec.shape, data: await m.expAvg.download() });
      expAvgSq.set(spec.name, { shape: spec.shape, data: await m.expAvgSq.download() });
    }
    return encodeCheckpoint({
      params,
      optimizer: { expAvg, expAvgSq },
      step: this.step,
      // Draws made ahead for the next step are not part of this state.
      rngState: this.ahead?.rngStateBefore ?? this.rng.getState(),
      modelConfig: this.config,
      runConfig: this.settings,
    });
  }

  /** Continues from a checkpoint of the same model configuration. */
  async restore(bytes: Uint8Array): Promise<void> {
    this.requireSettled('restore');
    const c = decodeCheckpoint(bytes);
    // (sameModelConfig: a checkpoint from before the head and targets choices names neither.)
    if (!isAimConfig(c.modelConfig) || !sameModelConfig(c.modelConfig, this.config)) {
      throw new RangeError('this checkpoint was trained with a different model configuration');
    }
    for (const spec of this.model.specs) {
      const p = c.params.get(spec.name);
      if (!p || p.data.length !== this.model.parameter(spec.name).size) {
        throw new RangeError(`checkpoint lacks ${spec.name} or has the wrong shape`);
      }
    }
    this.model.uploadParameters(new Map([...c.params].map(([k, t]) => [k, t.data])));
    for (const spec of this.model.specs) {
      const m = this.moments.get(spec.name)!;
      const fresh = new Float32Array(m.expAvg.size);
      m.expAvg.upload(c.optimizer?.expAvg.get(spec.name)?.data ?? fresh);
      m.expAvgSq.upload(c.optimizer?.expAvgSq.get(spec.name)?.data ?? fresh);
    }
    this.step = c.step;
    this.submitted = c.step;
    this.rng.setState(c.rngState);
    this.ahead = null;
    // A good state again: updates resume (a failed step halted them, grad_norm.wgsl).
    this.scalars.nonFiniteSteps.upload(new Uint32Array([0]));
  }

  destroy(): void {
    for (const d of this.gradNormDispatches) releaseDispatch(d);
    this.adamw.dispatches.forEach(releaseDispatch);
    this.adamw.step.buffer.destroy();
    for (const m of this.moments.values()) {
      m.expAvg.destroy();
      m.expAvgSq.destroy();
    }
    this.scalars.norm.destroy();
    this.scalars.clipScale.destroy();
    this.scalars.nonFiniteSteps.destroy();
    this.readback.destroy();
    this.gpuBatches?.destroy();
    this.model.destroy();
  }

  private async firstNonFiniteGradient(): Promise<string> {
    for (const spec of this.model.specs) {
      const g = await this.model.gradient(spec.name).download();
      if (g.some((v) => !Number.isFinite(v))) return `gradient of ${spec.name}`;
    }
    return 'gradient norm';
  }
}
