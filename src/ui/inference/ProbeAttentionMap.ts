/**
 * What the probe-attention picture shows, as numbers and pixels (no React, no canvas):
 *  - the attentive probe's pooling weights over the patches for one head, or their mean over
 *    the heads (ml-aim's AttentionPoolingClassifier has one query, the cls token, so each head
 *    has exactly one map and every map sums to 1 over the patches);
 *  - for a chosen patch, the cosine similarity of its feature with every patch's (there is no
 *    per-patch query to show: the similarity says what the probe's features group together);
 *  - either map blended over the crop the model saw (viridis, scaled to the map's own range).
 */
import type { RgbImage } from '../../data/dataset';
import { viridis } from '../patchLossMap';

/** Head `head`'s weights [K], or (head = 'mean') the mean over the heads, from [H, K]. */
export function attentionMap(
  weights: Float32Array,
  heads: number,
  head: number | 'mean',
): Float64Array {
  const K = weights.length / heads;
  if (!Number.isInteger(K)) throw new RangeError(`${weights.length} weights are not ${heads} maps`);
  const out = new Float64Array(K);
  if (head === 'mean') {
    for (let h = 0; h < heads; h++)
      for (let t = 0; t < K; t++) out[t] += weights[h * K + t] / heads;
  } else {
    if (!(head >= 0 && head < heads)) throw new RangeError(`head ${head} outside 0…${heads - 1}`);
    for (let t = 0; t < K; t++) out[t] = weights[head * K + t];
  }
  return out;
}

/** Cosine similarity of patch `patch`'s feature with every patch's, from features [K, D]. */
export function patchSimilarity(features: Float32Array, dim: number, patch: number): Float64Array {
  const K = features.length / dim;
  if (!(patch >= 0 && patch < K)) throw new RangeError(`patch ${patch} outside 0…${K - 1}`);
  const norms = new Float64Array(K);
  for (let t = 0; t < K; t++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += features[t * dim + i] ** 2;
    norms[t] = Math.sqrt(s);
  }
  const out = new Float64Array(K);
  for (let t = 0; t < K; t++) {
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += features[patch * dim + i] * features[t * dim + i];
    const denominator = norms[patch] * norms[t];
    out[t] = denominator > 0 ? dot / denominator : 0;
  }
  return out;
}

/** The min and max of a map (for its legend and colour scale). */
export function mapRange(values: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  return { min, max };
}

/**
 * The crop with `values` (one per patch, row-major over rows × cols) blended over it at
 * `alpha`, `scale` pixels per image pixel, and `marked` (a patch index) outlined in white.
 */
export function overlayPixels(
  crop: RgbImage,
  values: ArrayLike<number>,
  grid: { rows: number; cols: number },
  opts: { alpha?: number; scale?: number; marked?: number } = {},
): { width: number; height: number; data: Uint8ClampedArray<ArrayBuffer> } {
  const alpha = opts.alpha ?? 0.6;
  const scale = Math.max(1, Math.round(opts.scale ?? 1));
  const { min, max } = mapRange(values);
  const span = max > min ? max - min : 1;
  const W = crop.width * scale;
  const H = crop.height * scale;
  const out = { width: W, height: H, data: new Uint8ClampedArray(4 * W * H) };
  const cellW = W / grid.cols;
  const cellH = H / grid.rows;
  const mark =
    opts.marked === undefined
      ? undefined
      : { r: Math.floor(opts.marked / grid.cols), c: opts.marked % grid.cols };
  for (let y = 0; y < H; y++) {
    const r = Math.min(grid.rows - 1, Math.floor(y / cellH));
    for (let x = 0; x < W; x++) {
      const c = Math.min(grid.cols - 1, Math.floor(x / cellW));
      const src = 3 * (Math.floor(y / scale) * crop.width + Math.floor(x / scale));
      const colour = viridis((values[r * grid.cols + c] - min) / span);
      const o = 4 * (y * W + x);
      for (let k = 0; k < 3; k++)
        out.data[o + k] = Math.round((1 - alpha) * crop.data[src + k] + alpha * colour[k]);
      out.data[o + 3] = 255;
      if (mark && r === mark.r && c === mark.c) {
        const edge =
          y - Math.ceil(r * cellH) < 2 ||
          Math.ceil((r + 1) * cellH) - 1 - y < 2 ||
          x - Math.ceil(c * cellW) < 2 ||
          Math.ceil((c + 1) * cellW) - 1 - x < 2;
        if (edge) out.data.fill(255, o, o + 3);
      }
    }
  }
  return out;
}
