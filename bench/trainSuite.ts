/**
 * The `train` suite: one whole AIM v1 training step of this project's WGSL trainer at
 * aim-tiny and aim-small (batch 256; aim-micro batch 8 in `ci`), the figure bench/torch_aim.py
 * measures for PyTorch on the same GPU. Two times, reported side by side:
 *
 * (a) GPU step time (`ms`, `gpuMs`): forward (loss included) + backward + global gradient
 *     norm and clip scale + AdamW — every dispatch `Trainer.trainStep` submits, in its order —
 *     recorded `reps` times into one compute pass between timestamp queries, ÷ reps, median
 *     of `trials` (bench/timing.ts; as torch_aim.py's CUDA events around back-to-back steps).
 *     `gpuSingleMs`: one step per pass, timestamps around it, median of `trials`.
 *     `wallBatchedMs` / `wallMedianMs`: the same dispatches by wall-clock, submit → done.
 * (b) Trainer step time (`trainStepMs`): wall-clock of `Trainer.trainStep()` itself — CPU
 *     batch assembly (sampling, RandomResizedCrop + flip, ImageNet normalisation, no colour
 *     jitter: DEFAULT_SETTINGS), uploads, the one submission, and the loss / gradient-norm
 *     readback — median over the guard steps after the first.
 *
 * The step of (a) is the Trainer's own dispatch list (`Trainer.dispatches`) after
 * `Trainer.loadStep()` has loaded its first batch (augmented images, prefixes S ~ U{1…K−1},
 * the step-1 learning rate); repeating it repeats that update, and the work per step does not
 * depend on the values.
 *
 * Memory: `allocatedBytes` is every storage buffer of that step as allocated (AimGpuModel's
 * pool, the optimizer state, the storage buffers the prepared dispatches own); it must equal
 * src/model/memory.ts's estimate (`check.memoryEstimateExact`). WebGPU allocates it all up
 * front and nothing during a step, so this is the run's steady allocation (driver overhead
 * aside), to set beside PyTorch's `torch.cuda.max_memory_allocated`.
 *
 * Correctness guard (`check`): a real Trainer trains `GUARD_STEPS` steps from the seeded init
 * on the procedural set; every loss must be finite, the mean of the last three below the mean
 * of the first three; and the timed step's loss after all repetitions must be finite.
 */
import type { GpuContext } from '../src/gpu/context';
import { recordDispatch, type PreparedDispatch } from '../src/gpu/dispatch';
import { timeComputePass } from '../src/gpu/timing';
import { makeProceduralDataset } from '../src/data/procedural';
import type { ImageDataset } from '../src/data/dataset';
import { numPatches, parameterCount, type PresetName } from '../src/model/config';
import { AimGpuModel } from '../src/model/gpuModel';
import { estimateTrainingMemory, memoryLimitProblems } from '../src/model/memory';
import { defaultsFor, modelConfigFor, type RunSettings } from '../src/training/settings';
import { gpuBatchBuffers, planGpuBatches } from '../src/training/gpuBatches';
import { Trainer } from '../src/training/trainer';
import { emit, median, sig } from './stats';
import { message, planFrom, type SuiteEnv } from './suite';
import { timeDispatches, type RunPlan } from './timing';

export interface TrainBenchCase {
  preset: PresetName;
  batch: number;
}

/** The presets (batch 256 on a GPU); torch_aim.py measures the same. */
export const TRAIN_PRESETS: readonly PresetName[] = ['aim-tiny', 'aim-small'];
export const TRAIN_BATCH = 256;
/** `ci` and quick runs (SwiftShader): aim-micro, batch 8 — seconds per step on two CPU cores. */
export const CI_TRAIN_CASES: readonly TrainBenchCase[] = [{ preset: 'aim-micro', batch: 8 }];
/**
 * The `ci` repetitions: each aim-micro step takes seconds on SwiftShader, so one warm-up, two
 * repetitions, one trial (with the guard: ~18 steps in all).
 */
export const CI_TRAIN_PLAN: RunPlan = { reps: 2, warmup: 1, trials: 1 };
/** Optimizer steps of the Trainer guard (and the wall-clock `trainStepMs` sample). */
export const GUARD_STEPS = 10;

export function trainCases(
  batch: number | undefined,
  quick: boolean,
  presets?: readonly PresetName[],
): TrainBenchCase[] {
  if (quick && !presets) return CI_TRAIN_CASES.map((c) => ({ ...c, batch: batch ?? c.batch }));
  const size = batch ?? (quick ? CI_TRAIN_CASES[0].batch : TRAIN_BATCH);
  return (presets ?? TRAIN_PRESETS).map((preset) => ({ preset, batch: size }));
}

/**
 * The run settings of a case: the defaults (the recipe) at this preset — its whole shape:
 * trunk width, depth and heads, head width and depth (defaultsFor) — batch and GUARD_STEPS.
 */
export function benchSettings(c: TrainBenchCase): RunSettings {
  return {
    ...defaultsFor(c.preset),
    batch: c.batch,
    steps: GUARD_STEPS,
    evalEvery: 1_000_000,
    checkpointEvery: 0,
    seed: 0,
  };
}

/** A case's settings, model configuration and procedural data (the train and profile suites'). */
export function benchInputs(c: TrainBenchCase) {
  const s = benchSettings(c);
  const config = modelConfigFor(s);
  const dataset = makeProceduralDataset({
    size: config.imageSize,
    trainCount: Math.max(2 * c.batch, 16),
    valCount: 1,
    seed: 1,
  });
  return { s, config, dataset };
}

/** A Trainer with its first step loaded: what `Trainer.trainStep` submits is `step`. */
interface StepRig {
  trainer: Trainer;
  model: AimGpuModel;
  /** forward, backward, gradient norm, AdamW: the Trainer's own dispatch list. */
  step: readonly PreparedDispatch[];
}

async function buildStepRig(
  ctx: GpuContext,
  s: RunSettings,
  dataset: ImageDataset,
): Promise<StepRig> {
  const trainer = await Trainer.create(ctx, s, dataset);
  trainer.loadStep();
  return { trainer, model: trainer.model, step: trainer.dispatches };
}

function destroyRig(rig: StepRig): void {
  rig.trainer.destroy();
}

/** Bytes of the rig's storage buffers: the model's pool, the optimizer, dispatch-owned scratch. */
function allocatedBytes(rig: StepRig): {
  optimizer: number;
  kernelScratch: number;
  data: number;
} {
  const owned = new Set<GPUBuffer>();
  // The step's list holds the head's dispatches of one row bucket only; the model prepared
  // (and owns scratch for) every bucket: count them all, as the estimate does.
  const lists = [rig.model.preparedDispatches, rig.step];
  for (const list of lists) for (const d of list) for (const b of d.owned) owned.add(b);
  let kernelScratch = 0;
  for (const b of owned) if (b.usage & GPUBufferUsage.STORAGE) kernelScratch += b.size;
  const optimizer = rig.trainer.optimizerBytes;
  // The dataset on the GPU (src/training/gpuBatches.ts): images, tables, per-image records.
  return { optimizer, kernelScratch, data: rig.trainer.dataBytes };
}

interface GuardResult {
  losses: number[];
  stepMs: number[];
}

/** A real Trainer: GUARD_STEPS steps from the seeded init, losses and wall-clock per step. */
async function trainerGuard(
  ctx: GpuContext,
  s: RunSettings,
  dataset: ImageDataset,
): Promise<GuardResult> {
  const trainer = await Trainer.create(ctx, s, dataset);
  try {
    const losses: number[] = [];
    const stepMs: number[] = [];
    while (!trainer.done) {
      const m = await trainer.trainStep();
      losses.push(m.trainLoss);
      stepMs.push(m.stepMs);
    }
    return { losses, stepMs };
  } finally {
    trainer.destroy();
  }
}

/** Times the rig's step (a) and reads back its loss and allocation. */
async function measureStep(ctx: GpuContext, rig: StepRig, plan: RunPlan, label: string) {
  const timed = await timeDispatches(ctx, `${label} step`, rig.step, plan);
  const single: number[] = [];
  for (let r = 0; r < plan.trials; r++) {
    const t = await timeComputePass(ctx, `${label} one step`, (pass) => {
      for (const d of rig.step) recordDispatch(pass, d);
    });
    single.push(t.ms);
  }
  return {
    timed,
    single,
    timedLoss: await rig.model.readLoss(),
    memory: { model: rig.model.bytes, ...allocatedBytes(rig) },
    dispatchesPerStep: rig.step.length,
  };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

async function benchCase(
  env: SuiteEnv,
  c: TrainBenchCase,
  plan: RunPlan,
): Promise<Record<string, unknown>> {
  const { ctx } = env;
  const { s, config, dataset } = benchInputs(c);
  const gpuData = s.colorJitter
    ? null
    : planGpuBatches(ctx.capabilities, dataset, config.imageSize);
  const estimate = estimateTrainingMemory(config, c.batch, {
    dataBuffers: gpuData ? gpuBatchBuffers(gpuData, config.imageSize, c.batch) : [],
  });
  const limits = ctx.capabilities.limits;
  const limitProblems = memoryLimitProblems(estimate, {
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
  });
  if (limitProblems.length) throw new RangeError(limitProblems.join(' '));

  const rig = await buildStepRig(ctx, s, dataset);
  let measured: Awaited<ReturnType<typeof measureStep>>;
  try {
    measured = await measureStep(ctx, rig, plan, `bench train ${c.preset} B=${c.batch}`);
  } finally {
    destroyRig(rig);
  }
  const { timed, single, timedLoss, memory, dispatchesPerStep } = measured;
  const allocated = memory.model + memory.optimizer + memory.kernelScratch + memory.data;

  const guard = await trainerGuard(ctx, s, dataset);
  const finite = guard.losses.every(Number.isFinite) && Number.isFinite(timedLoss);
  const decreasing = mean(guard.losses.slice(-3)) < mean(guard.losses.slice(0, 3));
  const memoryEstimateExact = allocated === estimate.totalBytes;
  const trainStepMs = median(guard.stepMs.slice(1));
  const imgPerSec = (ms: number) => sig((c.batch * 1000) / ms);
  return {
    name: 'train-step',
    impl: 'aim-wgsl',
    preset: c.preset,
    batch: c.batch,
    tokens: numPatches(config),
    parameters: parameterCount(config).total,
    ms: sig(timed.ms),
    imgPerSec: imgPerSec(timed.ms),
    timing: timed.timing,
    gpuMs: timed.gpuMs === undefined ? undefined : sig(timed.gpuMs),
    gpuSingleMs: timed.timing === 'timestamp-query' ? sig(median(single)) : undefined,
    wallBatchedMs: sig(timed.wallBatchedMs),
    wallMedianMs: sig(timed.wallMedianMs),
    trainStepMs: sig(trainStepMs),
    trainStepImgPerSec: imgPerSec(trainStepMs),
    trainStepBasis:
      'Trainer.trainStep wall-clock: CPU batch assembly + upload + one submission + loss/grad-norm readback',
    allocatedBytes: allocated,
    memory: {
      ...estimate.bytes,
      modelBytes: estimate.modelBytes,
      largestBuffer: estimate.largestBuffer,
      buffers: estimate.buffers,
    },
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    dispatchesPerStep,
    adapter: env.adapter,
    reps: plan.reps,
    warmup: plan.warmup,
    trials: plan.trials,
    check: {
      losses: guard.losses.map((l) => sig(l, 5)),
      timedLoss: sig(timedLoss, 5),
      finite,
      decreasing,
      memoryEstimateExact,
      ok: finite && decreasing && memoryEstimateExact,
    },
  };
}

/** Runs the cases one after the other (each frees its buffers first); returns the failure count. */
export async function runTrainSuite(
  env: SuiteEnv,
  cases: readonly TrainBenchCase[],
  fixedPlan?: RunPlan,
): Promise<number> {
  const plan =
    fixedPlan ??
    planFrom(env.args, {
      reps: env.fallback ? 2 : 10,
      warmup: env.fallback ? 1 : 3,
      trials: env.fallback ? 2 : 3,
    });
  let failures = 0;
  for (const c of cases) {
    try {
      const line = await benchCase(env, c, plan);
      emit(line);
      if (!(line.check as { ok: boolean }).ok) failures++;
    } catch (error) {
      failures++;
      emit({
        name: 'train-step',
        impl: 'aim-wgsl',
        preset: c.preset,
        batch: c.batch,
        adapter: env.adapter,
        error: message(error),
      });
    }
  }
  return failures;
}
