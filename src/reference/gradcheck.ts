/**
 * Finite-difference gradient checks in float64, used to validate every reference backward
 * (and, through the references, every WGSL backward).
 */
import { mulberry32 } from './random';

export interface GradCheckResult {
  /** max over checked coordinates of |analytic − numeric| / max(|analytic| + |numeric|, floor). */
  worstRelativeError: number;
  checked: number;
}

/**
 * Compares `analytic` (the gradient of scalar `f` at `x`) with central differences
 * (f(x + h·e_i) − f(x − h·e_i)) / 2h on `samples` random coordinates (all when samples ≥ x.length).
 * In float64 with h = 1e-6 the difference error is ~1e-9 relative for smooth f, so a
 * correct backward gives ≪ 1e-6 and a wrong one O(1).
 */
export function checkGradient(
  f: (x: Float64Array) => number,
  x: Float64Array,
  analytic: ArrayLike<number>,
  { h = 1e-6, samples = 64, seed = 1, floor = 1e-7 } = {},
): GradCheckResult {
  if (analytic.length !== x.length)
    throw new RangeError(`gradient has ${analytic.length} entries for ${x.length} inputs`);
  const indices =
    samples >= x.length
      ? Array.from({ length: x.length }, (_, i) => i)
      : (() => {
          const next = mulberry32(seed);
          return Array.from({ length: samples }, () => Math.floor(next() * x.length));
        })();
  let worst = 0;
  for (const i of indices) {
    const saved = x[i];
    x[i] = saved + h;
    const plus = f(x);
    x[i] = saved - h;
    const minus = f(x);
    x[i] = saved;
    const numeric = (plus - minus) / (2 * h);
    const err =
      Math.abs(analytic[i] - numeric) / Math.max(Math.abs(analytic[i]) + Math.abs(numeric), floor);
    worst = Math.max(worst, err);
  }
  return { worstRelativeError: worst, checked: indices.length };
}

/** Σ w_i · y_i: turns a tensor-valued function into the scalar a gradient check needs. */
export function weightedSum(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}
