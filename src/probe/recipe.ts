/**
 * The probes' optimisation recipe as data, and their parameter initialisation.
 *
 * PROBE_RECIPE is chosen for this playground's scale, not copied from the paper (whose
 * probes train 100 epochs on ImageNet at batch 1024): AdamW with a linear warm-up over the
 * first 10 % of steps and a cosine decay to 0, 10 epochs of batch 64, peak lr 1e-2, weight
 * decay 0.05 on the weight matrices (not on the cls_token or the bias), torch's default
 * betas/eps, no augmentation (features are computed once per evaluation, so an augmented
 * view would need a trunk pass per step). On aim-tiny features (64 tokens × 192 channels) a
 * step is a few 10⁵-flop matmuls per sample, so 10 epochs of a few thousand images take
 * seconds on a laptop GPU; the trunk pass to compute the features dominates. Measured on
 * this project's CPU adapter (SwiftShader) in the report of issue 14. The peak lr: on a
 * random aim-micro trunk and the procedural set (160 images, batch 32, 20 epochs), 1e-3
 * barely moved the loss (2.11 → 1.93, 24 % train top-1) while 1e-2 fitted steadily
 * (attentive 2.10 → < 1.0 by epoch 12); BatchNorm'd inputs keep the larger step stable.
 */
import { learningRate } from '../training/schedule';

export type ProbeKind = 'attentive' | 'linear';

export const PROBE_KINDS: readonly ProbeKind[] = ['attentive', 'linear'];

export interface ProbeRecipe {
  epochs: number;
  batch: number;
  /** Peak learning rate. */
  lr: number;
  /** Fraction of the steps spent warming up linearly (from 1e-6, as the pre-training). */
  warmupFraction: number;
  /** Decoupled weight decay of the weight matrices (k, v, linear). */
  weightDecay: number;
  betas: [number, number];
  eps: number;
  augmentation: 'none';
}

export const PROBE_RECIPE: ProbeRecipe = {
  epochs: 10,
  batch: 64,
  lr: 1e-2,
  warmupFraction: 0.1,
  weightDecay: 0.05,
  betas: [0.9, 0.999],
  eps: 1e-8,
  augmentation: 'none',
};

/** Problems with a recipe, as sentences; empty when it is usable. */
export function validateRecipe(r: ProbeRecipe): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(r.epochs) || r.epochs < 1)
    problems.push(`epochs ${r.epochs} must be a positive integer.`);
  if (!Number.isInteger(r.batch) || r.batch < 1)
    problems.push(`batch ${r.batch} must be a positive integer.`);
  if (!(r.lr > 0 && Number.isFinite(r.lr))) problems.push(`lr ${r.lr} must be a positive number.`);
  if (!(r.warmupFraction >= 0 && r.warmupFraction < 1))
    problems.push(`warmupFraction ${r.warmupFraction} must be in [0, 1).`);
  if (!(r.weightDecay >= 0)) problems.push(`weightDecay ${r.weightDecay} must be ≥ 0.`);
  if (!r.betas.every((b) => b >= 0 && b < 1))
    problems.push(`betas ${r.betas.join(', ')} must be in [0, 1).`);
  if (!(r.eps > 0)) problems.push(`eps ${r.eps} must be > 0.`);
  return problems;
}

/** The learning rate of optimizer step `step` (0-based) of `totalSteps`. */
export function probeLearningRate(r: ProbeRecipe, step: number, totalSteps: number): number {
  return learningRate(
    { peakLr: r.lr, totalSteps, warmupFraction: r.warmupFraction, warmupStartLr: 1e-6 },
    step,
  );
}

/** Shapes of a probe's tensors by ml-aim key (cls_token is [1, 1, D] there). */
export function probeParamShapes(
  kind: ProbeKind,
  dim: number,
  classes: number,
): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  if (kind === 'attentive') {
    shapes.set('head.cls_token', [1, 1, dim]);
    shapes.set('head.k.weight', [dim, dim]);
    shapes.set('head.v.weight', [dim, dim]);
  }
  shapes.set('head.linear.weight', [classes, dim]);
  shapes.set('head.linear.bias', [classes]);
  return shapes;
}

/** Weight decay applies to the weight matrices only. */
export function decays(key: string): boolean {
  return key.endsWith('.weight');
}

/**
 * Initial values as ml-aim builds the module: cls_token ~ N(0, 0.02²) (torch.randn · 0.02);
 * the Linears (k, v, linear and its bias) torch's default U(−1/√D, 1/√D). Seeded
 * (mulberry32 through `random`), so a probe is reproducible.
 */
export function initialProbeParams(
  kind: ProbeKind,
  dim: number,
  classes: number,
  random: () => number,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const bound = 1 / Math.sqrt(dim);
  for (const [key, shape] of probeParamShapes(kind, dim, classes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    if (key === 'head.cls_token') {
      for (let i = 0; i < n; i++) {
        // Box–Muller; 1 − u keeps the logarithm finite.
        const u = 1 - random();
        const v = random();
        values[i] = 0.02 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      }
    } else for (let i = 0; i < n; i++) values[i] = (2 * random() - 1) * bound;
    out.set(key, values);
  }
  return out;
}
