/**
 * The CPU half of a training step (Trainer's step 1): which images, their random crops and
 * flips (or, on the CPU path, the finished augmented and normalised pixels), each sample's
 * prefix length S ~ U{1 … K−1} (S = 1 for the causal baseline), and the step's learning rate
 * — drawn from the run's one RNG stream in the CPU path's order, whichever path runs, so a run
 * is the same on either. Nothing here touches the GPU.
 */
import { drawTrainParams, trainBatch } from '../data/batch';
import {
  AIM_V1_AUGMENTATION,
  AIM_V1_AUGMENTATION_NO_JITTER,
  type AugmentOptions,
  type AugmentParams,
} from '../data/augment';
import type { ImageDataset } from '../data/dataset';
import { numPatches, type AimConfig } from '../model/config';
import type { Rng } from './rng';
import { EpochSampler } from './sampler';
import { DEFAULT_WARMUP, learningRate } from './schedule';
import type { RunSettings } from './settings';

/** One step's inputs as drawn on the CPU, before they are written to the GPU. */
export interface StepInputs {
  step: number;
  indices: Uint32Array | number[];
  /** The GPU path's crops and flips, or the CPU path's finished images. */
  augment: AugmentParams[] | Float32Array;
  prefix: number[];
  lr: number;
  /** The RNG state before these draws (what a checkpoint taken before this step stores). */
  rngStateBefore: number;
}

export class StepDraws {
  private readonly sampler: EpochSampler;
  private readonly augment: AugmentOptions;
  private readonly positions: number;

  constructor(
    private readonly settings: RunSettings,
    private readonly config: AimConfig,
    private readonly dataset: ImageDataset,
    private readonly rng: Rng,
    /** Draw crops and flips for the GPU's augmentation (else augment the pixels here). */
    private readonly forGpu: boolean,
  ) {
    this.sampler = new EpochSampler(dataset.train.count, settings.seed);
    const base = settings.colorJitter ? AIM_V1_AUGMENTATION : AIM_V1_AUGMENTATION_NO_JITTER;
    this.augment = { ...base, scale: [settings.cropScaleMin, 1] };
    this.positions = numPatches(config);
  }

  /** `step`'s inputs, advancing the RNG past their draws. */
  draw(step: number): StepInputs {
    const { batch } = this.settings;
    const rngStateBefore = this.rng.getState();
    const indices = this.sampler.indices(step, batch);
    const { train } = this.dataset;
    const size = this.config.imageSize;
    const augment = this.forGpu
      ? drawTrainParams(train, indices, size, this.augment, this.rng.uniform)
      : trainBatch(train, indices, size, this.augment, this.rng.uniform).images;
    const K = this.positions;
    const prefix = Array.from({ length: batch }, () =>
      this.settings.prefix ? this.rng.int(1, K - 1) : 1,
    );
    const lr = learningRate(
      {
        peakLr: this.settings.lr,
        totalSteps: this.settings.steps,
        warmupFraction: this.settings.warmupFraction,
        warmupStartLr: DEFAULT_WARMUP.warmupStartLr,
      },
      step,
    );
    return { step, indices, augment, prefix, lr, rngStateBefore };
  }
}
