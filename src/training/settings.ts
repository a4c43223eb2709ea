/**
 * Everything a run is configured by, as plain data: the UI's settings panel, the URL, the
 * headless CLI and checkpoints all read and write this one shape.
 */
import { PRESETS, validateConfig, type AimConfig, type PresetName } from '../model/config';
import { ORDERINGS, type Ordering } from '../model/orderings';

export interface RunSettings {
  preset: PresetName;
  ordering: Ordering;
  /** Optimizer steps. */
  steps: number;
  batch: number;
  /** Peak learning rate (1e-3 in the recipe). */
  lr: number;
  /** Fraction of steps for the linear warm-up from 1e-6 (0.025 in the recipe). */
  warmupFraction: number;
  weightDecay: number;
  /** Global gradient-norm clip (1.0 in the recipe). */
  clipNorm: number;
  /** Prefix-causal attention with S ~ U{1…K−1}; false: the causal baseline (S = 1). */
  prefix: boolean;
  /** Lower bound of RandomResizedCrop's area fraction (0.4 in the recipe). */
  cropScaleMin: number;
  colorJitter: boolean;
  /** Prediction-head blocks (overrides the preset's). */
  headDepth: number;
  /** ml-l3m's extra x + LN1(x) term in each head block. */
  headExtraNormTerm: boolean;
  seed: number;
  /** Evaluate (validation loss and per-chunk loss) every N steps (and at the end). */
  evalEvery: number;
  /** Validation images per evaluation (rounded up to whole batches). */
  evalImages: number;
  /** Chunks of the sequence for the per-chunk loss (Figure 7). */
  chunks: number;
  /** Save a checkpoint every N steps (0: only at the end). */
  checkpointEvery: number;
}

export const DEFAULT_SETTINGS: RunSettings = {
  preset: 'aim-tiny',
  ordering: 'raster',
  steps: 2000,
  batch: 64,
  lr: 1e-3,
  warmupFraction: 0.025,
  weightDecay: 0.05,
  clipNorm: 1,
  prefix: true,
  cropScaleMin: 0.4,
  colorJitter: false,
  headDepth: PRESETS['aim-tiny'].head.depth,
  headExtraNormTerm: false,
  seed: 0,
  evalEvery: 100,
  evalImages: 512,
  chunks: 8,
  checkpointEvery: 200,
};

/** The model configuration a run trains: the preset with the run's head settings. */
export function modelConfigFor(s: RunSettings): AimConfig {
  const base = PRESETS[s.preset];
  return {
    ...base,
    head: { ...base.head, depth: s.headDepth, extraNormTerm: s.headExtraNormTerm },
  };
}

/** Problems with the settings, as sentences; empty when they can run. */
export function validateSettings(s: RunSettings): string[] {
  const problems: string[] = [];
  if (!(s.preset in PRESETS)) problems.push(`Unknown preset "${s.preset}".`);
  else {
    if (PRESETS[s.preset].inferenceOnly)
      problems.push(`${s.preset} is too large to train in a browser tab.`);
    problems.push(...validateConfig(modelConfigFor(s)));
  }
  if (!ORDERINGS.includes(s.ordering)) problems.push(`Unknown ordering "${s.ordering}".`);
  const positiveInt = ['steps', 'batch', 'evalEvery', 'evalImages', 'chunks'] as const;
  for (const key of positiveInt) {
    if (!Number.isInteger(s[key]) || s[key] < 1)
      problems.push(`${key} must be a positive whole number.`);
  }
  if (!Number.isInteger(s.checkpointEvery) || s.checkpointEvery < 0)
    problems.push('checkpointEvery must be ≥ 0.');
  if (!Number.isInteger(s.headDepth) || s.headDepth < 0)
    problems.push('Head depth must be a whole number ≥ 0.');
  if (!(s.lr > 0 && s.lr < 1)) problems.push(`Learning rate ${s.lr} should be between 0 and 1.`);
  if (!(s.warmupFraction >= 0 && s.warmupFraction < 1))
    problems.push('Warm-up fraction must be in [0, 1).');
  if (!(s.weightDecay >= 0)) problems.push('Weight decay must be ≥ 0.');
  if (!(s.clipNorm > 0)) problems.push('Gradient clipping norm must be > 0.');
  if (!(s.cropScaleMin > 0 && s.cropScaleMin <= 1)) problems.push('Crop scale must be in (0, 1].');
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff)
    problems.push('Seed must be a 32-bit whole number.');
  return problems;
}
