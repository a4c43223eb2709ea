/**
 * "What the model thinks comes next", as pictures: the prediction at sequence position t−1
 * is the model's guess of patch t in normalised-pixel space (each target patch normalised by
 * its own mean and unbiased variance, ml-l3m's norm_pix_loss). To show it as pixels it is
 * un-normalised with the true patch's mean and std — as MAE's and AIM's visualisations do,
 * since the loss never asks the model for those two numbers — then the ImageNet normalisation
 * is undone. A model trained on raw targets predicts the (ImageNet-normalised) pixels
 * themselves: only that normalisation is undone. The first patch of the sequence has no
 * prediction and is shown as it is.
 */
import { IMAGENET_MEAN, IMAGENET_STD } from '../data/batch';
import { patchifyReference } from '../reference/patchify';
import { NORM_PIX_EPS, type PixelTargets } from '../reference/patchMseLoss';

export interface PredictionImage {
  /** size × size × 3 RGB, the (normalised-then-restored) input image. */
  original: Uint8Array;
  /** size × size × 3 RGB, every patch replaced by the model's prediction of it. */
  predicted: Uint8Array;
  size: number;
  patch: number;
  /** The ordering: sequence index t shows raster patch order[t]. */
  order: number[];
}

function toByte(normalised: number, channel: number): number {
  const v = (normalised * IMAGENET_STD[channel] + IMAGENET_MEAN[channel]) * 255;
  return Math.max(0, Math.min(255, Math.round(v)));
}

/**
 * images: the normalised NCHW batch the model saw; pred: its output [B, K, p·p·3] in
 * (row, col, channel) order; returns the first `count` images with their predictions.
 */
export function predictionImages(
  images: Float32Array,
  pred: Float32Array,
  batch: number,
  size: number,
  patch: number,
  order: readonly number[],
  count: number,
  /** What the model was trained to predict: raw targets are pixels already. */
  targetKind: PixelTargets = 'normalized',
): PredictionImage[] {
  const K = order.length;
  const P = patch * patch * 3;
  const grid = size / patch;
  if (pred.length !== batch * K * P)
    throw new RangeError(`predictions: ${pred.length} values for [${batch}, ${K}, ${P}]`);
  const targets = patchifyReference(
    images,
    { batch, channels: 3, height: size, width: size },
    patch,
    'target',
    order,
  );
  const raw = targetKind === 'raw';
  const out: PredictionImage[] = [];
  for (let b = 0; b < Math.min(count, batch); b++) {
    const original = new Uint8Array(size * size * 3);
    const predicted = new Uint8Array(size * size * 3);
    for (let t = 0; t < K; t++) {
      const base = (b * K + t) * P;
      let mean = 0;
      for (let j = 0; j < P; j++) mean += targets[base + j];
      mean /= P;
      let variance = 0;
      for (let j = 0; j < P; j++) variance += (targets[base + j] - mean) ** 2;
      const std = Math.sqrt(variance / (P - 1) + NORM_PIX_EPS);
      const unnormalise = (v: number) => (raw ? v : v * std + mean);
      const pr = Math.floor(order[t] / grid);
      const pc = order[t] % grid;
      for (let r = 0; r < patch; r++) {
        for (let q = 0; q < patch; q++) {
          for (let c = 0; c < 3; c++) {
            const j = (r * patch + q) * 3 + c;
            const at = ((pr * patch + r) * size + pc * patch + q) * 3 + c;
            original[at] = toByte(targets[base + j], c);
            // Position t − 1 predicts patch t; patch 0 has no prediction.
            const guess = t === 0 ? targets[base + j] : unnormalise(pred[(b * K + t - 1) * P + j]);
            predicted[at] = toByte(guess, c);
          }
        }
      }
    }
    out.push({ original, predicted, size, patch, order: [...order] });
  }
  return out;
}
