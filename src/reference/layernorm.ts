/** Float64 LayerNorm over the last dimension (torch.nn.LayerNorm: biased variance), and its backward. */
import { F32_UNIT_ROUNDOFF, gammaF32 } from './matmul';

export interface LayerNormForwardReference {
  y: Float64Array;
  /** Per-row mean, [rows]. */
  mean: Float64Array;
  /** Per-row 1/sqrt(var + eps), [rows]. */
  rstd: Float64Array;
}

export function layerNormReference(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number,
): LayerNormForwardReference {
  const y = new Float64Array(rows * dim);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[base + i];
    const mu = sum / dim;
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += (x[base + i] - mu) ** 2;
    const s = 1 / Math.sqrt(squares / dim + eps);
    mean[r] = mu;
    rstd[r] = s;
    for (let i = 0; i < dim; i++) y[base + i] = (x[base + i] - mu) * s * weight[i] + bias[i];
  }
  return { y, mean, rstd };
}

export interface LayerNormBackwardReference {
  dx: Float64Array;
  dweight: Float64Array;
  dbias: Float64Array;
}

/**
 * Gradients of y = x̂·w + b with x̂ = (x − mean)·rstd, recomputing mean and rstd from x:
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w, dw = Σ_r dy·x̂, db = Σ_r dy.
 */
export function layerNormBackwardReference(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number,
): LayerNormBackwardReference {
  const ones = new Float64Array(dim);
  const { mean, rstd } = layerNormReference(x, ones, ones, rows, dim, eps);
  const dx = new Float64Array(rows * dim);
  const dweight = new Float64Array(dim);
  const dbias = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sumG = 0;
    let sumGX = 0;
    for (let i = 0; i < dim; i++) {
      const g = dy[base + i] * weight[i];
      const xhat = (x[base + i] - mean[r]) * rstd[r];
      sumG += g;
      sumGX += g * xhat;
      dweight[i] += dy[base + i] * xhat;
      dbias[i] += dy[base + i];
    }
    for (let i = 0; i < dim; i++) {
      const g = dy[base + i] * weight[i];
      const xhat = (x[base + i] - mean[r]) * rstd[r];
      dx[base + i] = rstd[r] * (g - sumG / dim - (xhat * sumGX) / dim);
    }
  }
  return { dx, dweight, dbias };
}

/** Per-row bounds on the error of f32 statistics: |μ̂ − μ| ≤ dMean, |r̂/r − 1| ≤ rstdRel. */
export interface LayerNormRowErrors {
  dMean: Float64Array;
  rstdRel: Float64Array;
}

/**
 * Error bounds of an f32 LayerNorm forward whose row sums have summation depth `depth`
 * (each sum errs by ≤ γ_depth·Σ|terms|, Higham §4.2), first order in u = 2⁻²⁴:
 *   mean:  δμ = γ_d·Σ|x|/D + u·|μ|
 *   rstd:  ε_r = (γ_d + 4u)/2 + 4u + (δμ·rstd)²/2  (squares of the rounded x − μ̂ by fma, ÷D,
 *          +eps; inverse square root within 2 ULP = 4u; a wrong mean adds δμ² to the variance)
 */
export function layerNormStatErrorBounds(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number,
  depth: number,
): LayerNormRowErrors {
  const ones = new Float64Array(dim).fill(1);
  const { mean, rstd } = layerNormReference(x, ones, ones, rows, dim, eps);
  const dMean = new Float64Array(rows);
  const rstdRel = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let abs = 0;
    for (let i = 0; i < dim; i++) abs += Math.abs(x[r * dim + i]);
    dMean[r] = (gammaF32(depth) * abs) / dim + F32_UNIT_ROUNDOFF * Math.abs(mean[r]);
    rstdRel[r] =
      (gammaF32(depth) + 4 * F32_UNIT_ROUNDOFF) / 2 +
      4 * F32_UNIT_ROUNDOFF +
      (dMean[r] * rstd[r]) ** 2 / 2;
  }
  return { dMean, rstdRel };
}

/** e_i ≥ |x̂̂_i − x̂_i| for x̂ = (x − μ̂)·r̂ computed in f32 from statistics within `errs`. */
export function layerNormXhatErrorBounds(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number,
  errs: LayerNormRowErrors,
): Float64Array {
  const ones = new Float64Array(dim).fill(1);
  const { y: xhat, rstd } = layerNormReference(x, ones, new Float64Array(dim), rows, dim, eps);
  return Float64Array.from(xhat, (v, k) => {
    const r = Math.floor(k / dim);
    return errs.dMean[r] * rstd[r] + Math.abs(v) * (errs.rstdRel[r] + 2 * F32_UNIT_ROUNDOFF);
  });
}

/**
 * Tolerances for an f32 forward against `layerNormReference` on the same f32 inputs:
 * |δy_i| ≤ |w_i|·e_i + u·|y_i| (the fma's rounding), with a factor 2 for second-order terms.
 */
export function layerNormForwardErrorBounds(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number,
  depth: number,
): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const want = layerNormReference(x, weight, bias, rows, dim, eps);
  const errs = layerNormStatErrorBounds(x, rows, dim, eps, depth);
  const e = layerNormXhatErrorBounds(x, rows, dim, eps, errs);
  const u = F32_UNIT_ROUNDOFF;
  return {
    y: Float64Array.from(
      want.y,
      (y, k) => 2 * (Math.abs(weight[k % dim]) * e[k] + u * Math.abs(y)) + 1e-30,
    ),
    mean: Float64Array.from(errs.dMean, (d) => 2 * d + 1e-30),
    rstd: Float64Array.from(errs.rstdRel, (rel, r) => 2 * rel * want.rstd[r]),
  };
}
