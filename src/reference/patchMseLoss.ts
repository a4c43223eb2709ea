/**
 * Float64 reference for `shaders/patch_mse_loss.wgsl`: ml-l3m's RasterPixelLoss with
 * norm_pix_loss (MAE-style per-patch normalised pixel targets), as used to pre-train AIM —
 * or, with targets 'raw' (norm_pix_loss off, the paper's Table 3a), the target patches as
 * they are — and its gradient with respect to the predictions.
 */

/**
 * What the loss compares the predictions with (the paper's Table 3a): each target patch
 * normalised by its own mean and unbiased variance (ml-l3m's norm_pix_loss, the recipe), or
 * the raw (ImageNet-normalised) pixels. The paper's third variant, discrete tokens from a
 * dVAE, is not built.
 */
export const PIXEL_TARGETS = ['normalized', 'raw'] as const;
export type PixelTargets = (typeof PIXEL_TARGETS)[number];

/** norm_pix_loss: (t − mean) / (var + 1e-6) ** 0.5, var unbiased. */
export const NORM_PIX_EPS = 1e-6;

export interface PatchMseShape {
  batch: number;
  /** K: tokens (patches) per sample. */
  positions: number;
  /** P = p·p·3 values per patch. */
  patchValues: number;
}

/** Does position i of a sample with prefix length S predict a counted target (i + 1)? */
export function isCountedPosition(i: number, prefix: number, positions: number): boolean {
  return i + 1 >= prefix && i + 1 <= positions - 1;
}

/** N = Σ_b (K − clamp(S_b, 1, K)): the number of counted (position, target) pairs. */
export function countedTargets(prefixLengths: ArrayLike<number>, positions: number): number {
  let n = 0;
  for (let b = 0; b < prefixLengths.length; b++)
    n += positions - Math.min(Math.max(prefixLengths[b], 1), positions);
  return n;
}

/** The target patch starting at `offset` as the loss compares it: raw, or normalised. */
export function targetPatch(
  targets: ArrayLike<number>,
  offset: number,
  patchValues: number,
  kind: PixelTargets,
): Float64Array {
  if (kind === 'normalized') return normalizedPatch(targets, offset, patchValues);
  return Float64Array.from({ length: patchValues }, (_, j) => targets[offset + j]);
}

/** The normalised target patch starting at `offset`: (t − mean) / sqrt(unbiased var + eps). */
export function normalizedPatch(
  targets: ArrayLike<number>,
  offset: number,
  patchValues: number,
): Float64Array {
  let mean = 0;
  for (let j = 0; j < patchValues; j++) mean += targets[offset + j];
  mean /= patchValues;
  let variance = 0;
  for (let j = 0; j < patchValues; j++) variance += (targets[offset + j] - mean) ** 2;
  variance /= patchValues - 1;
  const rstd = 1 / Math.sqrt(variance + NORM_PIX_EPS);
  const out = new Float64Array(patchValues);
  for (let j = 0; j < patchValues; j++) out[j] = (targets[offset + j] - mean) * rstd;
  return out;
}

export interface PatchMseLossResult {
  /** [B, K]: mean squared error of each counted pair, 0 elsewhere. */
  perPosition: Float64Array;
  /** Σ perPosition / N (NaN when nothing is counted, as torch's mean of nothing). */
  loss: number;
  counted: number;
}

export function patchMseLossReference(
  pred: ArrayLike<number>,
  targets: ArrayLike<number>,
  prefixLengths: ArrayLike<number>,
  shape: PatchMseShape,
  kind: PixelTargets = 'normalized',
): PatchMseLossResult {
  const { batch, positions: K, patchValues: P } = shape;
  const perPosition = new Float64Array(batch * K);
  let total = 0;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < K; i++) {
      if (!isCountedPosition(i, prefixLengths[b], K)) continue;
      const row = b * K + i;
      const target = targetPatch(targets, (row + 1) * P, P, kind);
      let squared = 0;
      for (let j = 0; j < P; j++) squared += (pred[row * P + j] - target[j]) ** 2;
      perPosition[row] = squared / P;
      total += perPosition[row];
    }
  }
  const counted = countedTargets(prefixLengths, K);
  return { perPosition, loss: total / counted, counted };
}

/** d loss / d pred: 2·(pred − t̂)/(P·N) on counted positions (t̂: the target as compared), 0 elsewhere. */
export function patchMseLossBackwardReference(
  pred: ArrayLike<number>,
  targets: ArrayLike<number>,
  prefixLengths: ArrayLike<number>,
  shape: PatchMseShape,
  kind: PixelTargets = 'normalized',
): Float64Array {
  const { batch, positions: K, patchValues: P } = shape;
  const counted = countedTargets(prefixLengths, K);
  const grad = new Float64Array(batch * K * P);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < K; i++) {
      if (!isCountedPosition(i, prefixLengths[b], K)) continue;
      const row = b * K + i;
      const target = targetPatch(targets, (row + 1) * P, P, kind);
      for (let j = 0; j < P; j++)
        grad[row * P + j] = (2 * (pred[row * P + j] - target[j])) / (P * counted);
    }
  }
  return grad;
}
