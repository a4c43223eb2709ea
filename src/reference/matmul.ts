/** Float64 reference for `shaders/matmul.wgsl`, epilogues included. */
import { gelu, geluGrad } from './gelu';

/** One (batched) product op(A)·op(B): op(A) is [M, K], op(B) is [K, N], C is [M, N]. */
export interface MatmulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** B is one matrix used for every batch entry. */
  broadcastB: boolean;
}

/** op(A)·op(B) per batch entry, stored layouts as in the kernel (transA: A is [K,M], transB: B is [N,K]). */
export function matmulReference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  s: MatmulShape,
): Float64Array {
  const { batch, m, n, k, transA, transB, broadcastB } = s;
  const c = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const aOff = p * m * k;
    const bOff = broadcastB ? 0 : p * k * n;
    const cOff = p * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let kk = 0; kk < k; kk++) {
          const av = transA ? a[aOff + kk * m + i] : a[aOff + i * k + kk];
          const bv = transB ? b[bOff + j * k + kk] : b[bOff + kk * n + j];
          sum += av * bv;
        }
        c[cOff + i * n + j] = sum;
      }
    }
  }
  return c;
}

/**
 * Σ_k |a_ik|·|b_kj| per output element: the scale of the rounding error of an f32 dot
 * product. Any summation order satisfies |ĉ − c| ≤ γ_K · Σ|a||b| with γ_K = K·u/(1 − K·u),
 * u = 2⁻²⁴ (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), which is what
 * the tests use as a tolerance — tight, and valid for every tile order.
 */
export function matmulAbsReference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  s: MatmulShape,
): Float64Array {
  const abs = (x: ArrayLike<number>) => Float64Array.from(x as ArrayLike<number>, Math.abs);
  return matmulReference(abs(a), abs(b), s);
}

export const F32_UNIT_ROUNDOFF = 2 ** -24;

/** γ_K from the bound above. */
export function gammaF32(k: number): number {
  const ku = k * F32_UNIT_ROUNDOFF;
  return ku / (1 - ku);
}

export interface EpilogueReference {
  bias?: ArrayLike<number>;
  activation?: 'none' | 'gelu' | 'gelu-grad';
  /** For 'gelu-grad': the forward pre-activation. */
  aux?: ArrayLike<number>;
  residual?: ArrayLike<number>;
  /** For accumulate: C's previous contents. */
  previous?: ArrayLike<number>;
}

/** Applies the kernel's epilogue to a float64 product; returns C and (for 'gelu') the pre-activation. */
export function epilogueReference(
  product: Float64Array,
  n: number,
  e: EpilogueReference,
): { c: Float64Array; preActivation?: Float64Array } {
  const c = new Float64Array(product.length);
  const pre = e.activation === 'gelu' ? new Float64Array(product.length) : undefined;
  for (let i = 0; i < product.length; i++) {
    let v = product[i];
    if (e.bias) v += e.bias[i % n];
    if (e.activation === 'gelu') {
      pre![i] = v;
      v = gelu(v);
    } else if (e.activation === 'gelu-grad') {
      v *= geluGrad(e.aux![i]);
    }
    if (e.residual) v += e.residual[i];
    if (e.previous) v += e.previous[i];
    c[i] = v;
  }
  return { c, preActivation: pre };
}
