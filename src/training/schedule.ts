/**
 * The learning-rate schedule of the AIM v1 recipe (ml-l3m): linear warm-up from 1e-6 to the
 * peak over the first 2.5 % of steps, then cosine decay to 0 at the last step.
 */

export interface LrSchedule {
  peakLr: number;
  totalSteps: number;
  /** Fraction of the steps spent warming up (0.025 in the recipe). */
  warmupFraction: number;
  /** Learning rate at step 0 (1e-6 in the recipe). */
  warmupStartLr: number;
}

/**
 * The recipe's warm-up: the run settings' default warm-up fraction (settingsSchema.ts) and
 * the learning rate the trainer starts every run from.
 */
export const DEFAULT_WARMUP = { warmupFraction: 0.025, warmupStartLr: 1e-6 } as const;

export function warmupSteps(s: LrSchedule): number {
  return Math.round(s.warmupFraction * s.totalSteps);
}

/** Learning rate for optimizer step `step` (0-based, 0 … totalSteps − 1). */
export function learningRate(s: LrSchedule, step: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`learningRate: step ${step}`);
  const warm = warmupSteps(s);
  if (step < warm) return s.warmupStartLr + ((s.peakLr - s.warmupStartLr) * step) / warm;
  const decaySteps = Math.max(1, s.totalSteps - 1 - warm);
  const progress = Math.min(1, (step - warm) / decaySteps);
  return 0.5 * s.peakLr * (1 + Math.cos(Math.PI * progress));
}
