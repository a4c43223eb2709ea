/**
 * One query's attention row out of a block's probabilities (./queryAttention.ts), for one head
 * or the mean over heads, in sequence order and put back on the image's patch grid through the
 * run's ordering, with the prefix-causal mask that decided which keys it could see. Pure and
 * light: the page imports it (the model code stays in the worker).
 */
import { prefixAttends } from '../reference/attention';

/** A head (zero-based) or the mean of every head's row. */
export type HeadChoice = number | 'mean';

export interface QueryRow {
  /** Sequence order: entry j is key j's probability (0 where masked). */
  sequence: Float64Array;
  /** Image space: entry p is the probability of the patch at raster index p. */
  image: Float64Array;
  /** Sequence order: may the query attend key j? */
  attendedSequence: boolean[];
  /** Image space: may the query attend the patch at raster index p? */
  attendedImage: boolean[];
}

/** The sequence position of every raster patch: inverse[order[t]] = t. */
export function inverseOrder(order: readonly number[]): number[] {
  const inverse = new Array<number>(order.length);
  order.forEach((p, t) => (inverse[p] = t));
  return inverse;
}

/**
 * Query t's row (sequence order) of `probs` [heads, K, K] for `head` or the mean over heads,
 * and the same values and mask in image space (raster index p holds sequence position
 * inverse[p], i.e. image[order[j]] = sequence[j]).
 */
export function queryRow(
  probs: ArrayLike<number>,
  positions: number,
  heads: number,
  head: HeadChoice,
  query: number,
  prefix: number,
  order: readonly number[],
): QueryRow {
  const K = positions;
  if (!(Number.isInteger(query) && query >= 0 && query < K))
    throw new RangeError(`query position ${query} is outside 0 … ${K - 1}`);
  if (head !== 'mean' && !(Number.isInteger(head) && head >= 0 && head < heads))
    throw new RangeError(`head ${head} is outside 0 … ${heads - 1}`);
  if (order.length !== K)
    throw new RangeError(`the ordering has ${order.length} patches, not ${K}`);
  const chosen = head === 'mean' ? Array.from({ length: heads }, (_, h) => h) : [head];
  const sequence = new Float64Array(K);
  for (const h of chosen) {
    const row = (h * K + query) * K;
    for (let j = 0; j < K; j++) sequence[j] += probs[row + j] / chosen.length;
  }
  const attendedSequence = Array.from({ length: K }, (_, j) => prefixAttends(query, j, prefix));
  const image = new Float64Array(K);
  const attendedImage = new Array<boolean>(K);
  order.forEach((p, j) => {
    image[p] = sequence[j];
    attendedImage[p] = attendedSequence[j];
  });
  return { sequence, image, attendedSequence, attendedImage };
}
