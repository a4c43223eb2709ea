/**
 * A k-nearest-neighbour probe: how a pre-training checkpoint without a classification head
 * still classifies. Each labelled image becomes one vector — its patch features averaged
 * over the patches, then scaled to unit length — and a query is classified by the labels of
 * its k most cosine-similar vectors, each vote weighted by exp(similarity / τ) (the weighted
 * k-NN of Wu et al. 2018 that DINO and others report as a representation-quality measure;
 * k = 20, τ = 0.07 as there). Class scores are the normalised vote weights, so they read as
 * probabilities in the top-5 list.
 *
 * Everything is float64 and deterministic; ties in similarity keep the lower bank index.
 */

export interface KnnBank {
  /** count × dim unit vectors, row-major. */
  vectors: Float64Array;
  labels: Uint16Array;
  count: number;
  dim: number;
  classes: number;
}

export const KNN_K = 20;
export const KNN_TEMPERATURE = 0.07;

/** Patch features [n, tokens, dim] → n unit vectors (mean over tokens, L2-normalised). */
export function pooledUnitVectors(
  features: ArrayLike<number>,
  n: number,
  tokens: number,
  dim: number,
): Float64Array {
  if (features.length !== n * tokens * dim) {
    throw new RangeError(`k-NN: ${features.length} values are not ${n}×${tokens}×${dim}`);
  }
  const out = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const row = out.subarray(i * dim, (i + 1) * dim);
    for (let t = 0; t < tokens; t++) {
      const base = (i * tokens + t) * dim;
      for (let j = 0; j < dim; j++) row[j] += features[base + j];
    }
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += row[j] * row[j];
    // A zero vector stays zero: it is similar to nothing rather than NaN.
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < dim; j++) row[j] *= scale;
  }
  return out;
}

export function makeBank(
  vectors: Float64Array,
  labels: ArrayLike<number>,
  dim: number,
  classes: number,
): KnnBank {
  const count = labels.length;
  if (vectors.length !== count * dim) {
    throw new RangeError(`k-NN: ${vectors.length} values for ${count} vectors of ${dim}`);
  }
  if (count === 0) throw new RangeError('k-NN: the labelled set is empty');
  for (let i = 0; i < count; i++) {
    if (!(labels[i] >= 0 && labels[i] < classes)) {
      throw new RangeError(`k-NN: label ${labels[i]} is outside 0…${classes - 1}`);
    }
  }
  return { vectors, labels: Uint16Array.from(labels), count, dim, classes };
}

/** Class scores (summing to 1) for one unit query vector. */
export function knnScores(
  bank: KnnBank,
  query: Float64Array,
  k = KNN_K,
  temperature = KNN_TEMPERATURE,
): Float64Array {
  if (query.length !== bank.dim) {
    throw new RangeError(`k-NN: query has ${query.length} values, the bank ${bank.dim}`);
  }
  const sims = new Float64Array(bank.count);
  for (let i = 0; i < bank.count; i++) {
    let s = 0;
    const base = i * bank.dim;
    for (let j = 0; j < bank.dim; j++) s += bank.vectors[base + j] * query[j];
    sims[i] = s;
  }
  const order = Array.from({ length: bank.count }, (_, i) => i).sort(
    (a, b) => sims[b] - sims[a] || a - b,
  );
  const scores = new Float64Array(bank.classes);
  const take = Math.min(k, bank.count);
  // Subtracting the best similarity keeps exp() in range; it cancels in the normalisation.
  const best = sims[order[0]];
  let total = 0;
  for (let r = 0; r < take; r++) {
    const i = order[r];
    const w = Math.exp((sims[i] - best) / temperature);
    scores[bank.labels[i]] += w;
    total += w;
  }
  for (let c = 0; c < scores.length; c++) scores[c] /= total;
  return scores;
}

/** Top-1 accuracy of the bank on labelled unit vectors. */
export function knnAccuracy(
  bank: KnnBank,
  vectors: Float64Array,
  labels: ArrayLike<number>,
  k = KNN_K,
): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const scores = knnScores(bank, vectors.subarray(i * bank.dim, (i + 1) * bank.dim), k);
    let arg = 0;
    for (let c = 1; c < scores.length; c++) if (scores[c] > scores[arg]) arg = c;
    if (arg === labels[i]) correct++;
  }
  return labels.length ? correct / labels.length : 0;
}
