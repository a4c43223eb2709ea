/** Float64 reference for `shaders/matmul.wgsl`: C[b] = A[b]·B[b] (B shared if broadcastB). */
import type { MatmulShape } from '../kernels/matmul';

export function matmulReference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  s: MatmulShape,
): Float64Array {
  const { batch, m, n, k, broadcastB } = s;
  const c = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const aOff = p * m * k;
    const bOff = broadcastB ? 0 : p * k * n;
    const cOff = p * m * n;
    for (let i = 0; i < m; i++) {
      for (let kk = 0; kk < k; kk++) {
        const av = a[aOff + i * k + kk];
        if (av === 0) continue;
        const bRow = bOff + kk * n;
        const cRow = cOff + i * n;
        for (let j = 0; j < n; j++) c[cRow + j] += av * b[bRow + j];
      }
    }
  }
  return c;
}

/**
 * Σ_k |a_ik|·|b_kj| per output element: the scale of the rounding error of an f32 dot
 * product. Any summation order satisfies |ĉ − c| ≤ γ_K · Σ|a||b| with γ_K = K·u/(1 − K·u),
 * u = 2⁻²⁴ (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), which is what
 * the tests use as a tolerance — tight, and justified for every tile order.
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
