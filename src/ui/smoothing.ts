/**
 * The de-biased exponential moving average TensorBoard and W&B draw over a noisy loss:
 * s_n = w·s_{n−1} + (1−w)·y_n from s_0 = 0, divided by (1 − w^n) so the first points are
 * not pulled towards zero. Non-finite values are skipped (they keep the previous smoothed
 * value) rather than poisoning the rest of the curve.
 */
export function debiasedEma(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1))
    throw new RangeError(`smoothing weight ${weight} is not in [0, 1)`);
  const out = new Array<number>(values.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const y = values[i];
    if (!Number.isFinite(y)) {
      out[i] = count === 0 ? y : last / (1 - weight ** count);
      continue;
    }
    count++;
    last = last * weight + (1 - weight) * y;
    out[i] = last / (1 - weight ** count);
  }
  return out;
}
