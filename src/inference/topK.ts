/**
 * A classifier head's logits → the k most likely classes with their probabilities.
 *
 * The softmax runs in float64 with the maximum subtracted first, so large logits cannot
 * overflow exp() and the probabilities are accurate to double precision (the f32 logits are
 * exact in f64). Ranking is by logit, which orders classes exactly as the probabilities do
 * while still separating classes whose probabilities both underflow to 0; equal logits keep
 * the lower class index first, so the result is deterministic.
 */

/** One ranked class. */
export interface TopKEntry {
  index: number;
  probability: number;
  logit: number;
}

function checkLogits(logits: ArrayLike<number>): number {
  if (logits.length < 1) throw new RangeError('softmax needs at least one logit');
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    // −∞ is a legitimate "impossible" logit; NaN or +∞ means the model output is broken.
    if (Number.isNaN(x) || x === Infinity) {
      throw new RangeError(`logit ${i} is ${x}; the softmax is undefined`);
    }
    if (x > max) max = x;
  }
  if (max === -Infinity) throw new RangeError('every logit is −∞; the softmax is undefined');
  return max;
}

/** softmax(logits) in float64: exp(x − max) / Σ exp(x − max). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const max = checkLogits(logits);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    // The largest term is exp(0) = 1, so the sum is in [1, n]: no overflow, no 0/0.
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/**
 * The k highest-scoring classes, best first, with their softmax probabilities (k is capped at
 * the number of classes).
 */
export function topK(logits: ArrayLike<number>, k: number): TopKEntry[] {
  const probabilities = softmax(logits);
  return topIndices(logits, k).map((index) => ({
    index,
    probability: probabilities[index],
    logit: logits[index],
  }));
}

/** The k best classes of scores that already are probabilities (a k-NN vote, say). */
export function rankScores(scores: ArrayLike<number>, k: number): TopKEntry[] {
  return topIndices(scores, k).map((index) => ({
    index,
    probability: scores[index],
    logit: Math.log(scores[index]),
  }));
}

/** Indices of the k largest values, largest first, lower index first on ties. */
function topIndices(values: ArrayLike<number>, k: number): number[] {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`top-k: k = ${k} must be an integer ≥ 0`);
  const n = Math.min(k, values.length);
  // Indices of the best n so far, best first. Visiting indices in increasing order and
  // displacing only on a strictly larger value keeps the lower index ahead on ties. This is
  // O(length · k), cheaper than sorting all classes for the small k a UI shows.
  const best: number[] = [];
  for (let i = 0; i < values.length && n > 0; i++) {
    const x = values[i];
    if (best.length === n && !(x > values[best[n - 1]])) continue;
    let pos = best.length < n ? best.length : n - 1;
    while (pos > 0 && x > values[best[pos - 1]]) pos--;
    if (best.length === n) best.pop();
    best.splice(pos, 0, i);
  }
  return best;
}
