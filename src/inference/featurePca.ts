/**
 * "The feature map as a picture": the patch features a model produces for one image, reduced
 * to their top three principal components and shown as red, green and blue per patch.
 *
 * Features are X [K, D] (K = gridH · gridW tokens in raster order, D up to 4096, K ≤ ~1024).
 * Principal axes of the centred rows Xc are eigenvectors of the D × D covariance, which is too
 * large to form; the K × K Gram matrix G = Xc·Xcᵀ has the same non-zero eigenvalues, and its
 * unit eigenvector v_i gives the component scores directly: Xc·u_i = sqrt(λ_i)·v_i.
 *
 * Eigenvectors come from orthogonal (subspace) iteration with Rayleigh–Ritz on a block of
 * p = min(K, 8) vectors from a fixed pseudo-random start, so the result is deterministic. The
 * error in Ritz pair i shrinks like (λ_{p+1}/λ_i)^t after t iterations; the extra five vectors
 * keep that ratio small for the three wanted pairs even when λ3 ≈ λ4. Iteration stops when
 * every wanted residual ‖G·v − θ·v‖ is below 1e-8·θ_1 (each vector's angle error is then at
 * most that over its eigen-gap, far below what 8-bit colours show), or after 500 iterations,
 * reported as `converged: false`. Structured features (a few dominant directions) converge in
 * about ten iterations; white noise, the worst case with a flat spectrum, takes a few hundred.
 *
 * All arithmetic is float64. Cost: the Gram matrix is K²·D/2 multiply-adds (about 2·10⁹ for
 * K = 1024, D = 4096; 1.3·10⁸ for AIM's 16 × 16 grid), each iteration K²·p.
 */
import type { RgbImage } from '../data/dataset';
import { mulberry32 } from '../reference/random';

const COMPONENTS = 3;
const BLOCK = 8;
const MAX_ITERATIONS = 500;
const RESIDUAL_TOLERANCE = 1e-8;
/** Eigenvalues below this fraction of the total variance are rounding noise: shown grey. */
const NEGLIGIBLE_VARIANCE = 1e-10;
/** Robust range: 1st to 99th percentile, so a few outlier patches do not wash out the rest. */
const LOW_PERCENTILE = 0.01;
const HIGH_PERCENTILE = 0.99;

export interface FeaturePca {
  /** Per component (up to 3): K scores, sign-fixed so the largest |score| is positive. */
  scores: Float64Array[];
  /** Eigenvalues of G (= K × the variance along each axis), largest first. */
  eigenvalues: number[];
  /** λ_i / trace(G): the share of the total variance each component explains (0 if none). */
  explainedVariance: number[];
  iterations: number;
  converged: boolean;
}

/** The PCA picture, an RgbImage, with what the components explain. */
export interface FeaturePcaImage extends RgbImage {
  explainedVariance: number[];
}

/** Gram matrix of the centred rows of X [K, D], row-major K × K. */
function centredGram(features: Float32Array, k: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  features.forEach((x, i) => {
    if (!Number.isFinite(x))
      throw new RangeError(`feature [${Math.floor(i / d)}, ${i % d}] is ${x}`);
    mean[i % d] += x;
  });
  for (let j = 0; j < d; j++) mean[j] /= k;
  const xc = Float64Array.from(features, (x, i) => x - mean[i % d]);
  const g = new Float64Array(k * k);
  rowDots(xc, k, xc, k, d, g, true);
  return g;
}

/**
 * out[j·m + i] = a_i · b_j for the m rows a_i of `a` and the `count` rows b_j of `b`, all of
 * length n. Two rows of each at a time, so each load feeds two products: this is the hot loop
 * of the module (memory-bound when done one pair at a time). With `symmetric` (a = b) only
 * pairs j ≥ i are computed and mirrored; a_i·a_j and a_j·a_i sum the same products in the
 * same order, so the result is exactly symmetric. An odd last row pairs with itself.
 */
function rowDots(
  a: Float64Array,
  m: number,
  b: Float64Array,
  count: number,
  n: number,
  out: Float64Array,
  symmetric = false,
): void {
  for (let i = 0; i < m; i += 2) {
    const i2 = Math.min(i + 1, m - 1);
    for (let j = symmetric ? i : 0; j < count; j += 2) {
      const j2 = Math.min(j + 1, count - 1);
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let t = 0, pa = i * n, pa2 = i2 * n, pb = j * n, pb2 = j2 * n; t < n; t++) {
        const x0 = a[pa + t];
        const x1 = a[pa2 + t];
        const y0 = b[pb + t];
        const y1 = b[pb2 + t];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      out[j * m + i] = s00;
      out[j2 * m + i] = s01;
      out[j * m + i2] = s10;
      out[j2 * m + i2] = s11;
      if (symmetric) {
        out[i * m + j] = s00;
        out[i * m + j2] = s01;
        out[i2 * m + j] = s10;
        out[i2 * m + j2] = s11;
      }
    }
  }
}

function norm2(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

/**
 * Orthonormalises the p columns of q (column c at q[c·k…]) in place by modified Gram–Schmidt,
 * run twice ("twice is enough" for orthogonality to rounding). A column that collapses (G has
 * rank below p) is replaced by a fresh vector from `next`, which keeps the block full rank.
 */
function orthonormalise(q: Float64Array, k: number, p: number, next: () => number): void {
  for (let c = 0; c < p; c++) {
    const col = q.subarray(c * k, (c + 1) * k);
    for (let attempt = 0; ; attempt++) {
      const before = norm2(col);
      for (let pass = 0; pass < 2; pass++) {
        for (let o = 0; o < c; o++) {
          const other = q.subarray(o * k, (o + 1) * k);
          let dot = 0;
          for (let i = 0; i < k; i++) dot += col[i] * other[i];
          for (let i = 0; i < k; i++) col[i] -= dot * other[i];
        }
      }
      const norm = norm2(col);
      if (norm > 1e-8 * before && norm > 0) {
        for (let i = 0; i < k; i++) col[i] /= norm;
        break;
      }
      if (attempt > 8) throw new Error('feature PCA: could not complete an orthonormal basis');
      for (let i = 0; i < k; i++) col[i] = next() - 0.5;
    }
  }
}

/** Cyclic Jacobi on a small symmetric p × p matrix: eigenvalues (descending) and vectors. */
function smallEigen(h: Float64Array, p: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(h);
  const v = new Float64Array(p * p);
  // Rotates the p element pairs (m[x + i·step], m[y + i·step]) by (cos, sin) = (c, s).
  const rotate = (m: Float64Array, x: number, y: number, step: number, c: number, s: number) => {
    for (let i = 0, o = 0; i < p; i++, o += step) {
      const mx = m[x + o];
      const my = m[y + o];
      m[x + o] = c * mx - s * my;
      m[y + o] = s * mx + c * my;
    }
  };
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < p * p; i++) total += a[i] * a[i];
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += 2 * a[i * p + j] ** 2;
    if (off <= 1e-30 * total) break;
    for (let r = 0; r < p; r++) {
      for (let s = r + 1; s < p; s++) {
        const ars = a[r * p + s];
        if (ars === 0) continue;
        // The rotation that zeroes a[r][s] (Golub & Van Loan, sym.schur2).
        const tau = (a[s * p + s] - a[r * p + r]) / (2 * ars);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const sn = t * c;
        // a ← Jᵀ·a·J (columns r and s, then rows r and s), v ← v·J.
        rotate(a, r, s, p, c, sn);
        rotate(a, r * p, s * p, 1, c, sn);
        rotate(v, r, s, p, c, sn);
      }
    }
  }
  const order = Array.from({ length: p }, (_, i) => i).sort(
    (x, y) => a[y * p + y] - a[x * p + x] || x - y,
  );
  const vectors = new Float64Array(p * p); // column c = eigenvector c, descending
  order.forEach((src, c) => {
    for (let i = 0; i < p; i++) vectors[i * p + c] = v[i * p + src];
  });
  return { values: order.map((i) => a[i * p + i]), vectors };
}

/** The top principal components of X [K, D] (row-major) over its K rows. */
export function featurePca(features: Float32Array, k: number, d: number): FeaturePca {
  if (!Number.isInteger(k) || !Number.isInteger(d) || k < 1 || d < 1) {
    throw new RangeError(`feature PCA: shape [${k}, ${d}] must be positive integers`);
  }
  if (features.length !== k * d) {
    throw new RangeError(`feature PCA: ${features.length} values for [${k}, ${d}]`);
  }
  const g = centredGram(features, k, d);
  let trace = 0;
  for (let i = 0; i < k; i++) trace += g[i * k + i];
  const wanted = Math.min(COMPONENTS, k);
  const p = Math.min(BLOCK, k);
  const next = mulberry32(0x5eed);
  const q = Float64Array.from({ length: p * k }, () => next() - 0.5);
  orthonormalise(q, k, p, next);
  const z = new Float64Array(p * k);
  const h = new Float64Array(p * p);
  // The latest Ritz vectors (columns), the estimates returned: q itself before any iteration.
  let ritzVectors = q;
  let ritz = smallEigen(new Float64Array(p * p), p);
  let iterations = 0;
  let converged = trace === 0; // all rows equal: nothing to find
  while (!converged && iterations < MAX_ITERATIONS) {
    iterations++;
    // z = G·q (column c of z = G·q_c), the Rayleigh quotient h = qᵀ·G·q and its eigenpairs,
    // the Ritz pairs. h is symmetric up to rounding; averaging makes it exactly so.
    rowDots(g, k, q, p, k, z);
    rowDots(q, p, z, p, k, h);
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < a; b++) h[a * p + b] = h[b * p + a] = (h[a * p + b] + h[b * p + a]) / 2;
    }
    ritz = smallEigen(h, p);
    // Ritz vectors v = q·W and G·v = z·W; residual of the wanted pairs decides convergence.
    const v = new Float64Array(p * k);
    const gv = new Float64Array(p * k);
    for (let c = 0; c < p; c++) {
      for (let b = 0; b < p; b++) {
        const w = ritz.vectors[b * p + c];
        for (let i = 0; i < k; i++) {
          v[c * k + i] += w * q[b * k + i];
          gv[c * k + i] += w * z[b * k + i];
        }
      }
    }
    const scale = Math.max(ritz.values[0], 0);
    converged = true;
    for (let c = 0; c < wanted; c++) {
      let r2 = 0;
      for (let i = 0; i < k; i++) r2 += (gv[c * k + i] - ritz.values[c] * v[c * k + i]) ** 2;
      if (Math.sqrt(r2) > RESIDUAL_TOLERANCE * scale) converged = false;
    }
    ritzVectors = v;
    if (converged) break;
    // Next block: G·v, one power step applied to the current best estimates.
    q.set(gv);
    orthonormalise(q, k, p, next);
  }
  // Eigenvalues that are rounding noise (rank below 3) give all-zero scores, drawn grey.
  const eigenvalues = Array.from({ length: wanted }, (_, c) => {
    const lambda = trace === 0 ? 0 : Math.max(ritz.values[c], 0);
    return lambda <= NEGLIGIBLE_VARIANCE * trace ? 0 : lambda;
  });
  const explainedVariance = eigenvalues.map((lambda) => (lambda === 0 ? 0 : lambda / trace));
  const scores = eigenvalues.map((lambda, c) => {
    const root = Math.sqrt(lambda);
    const s = Float64Array.from(ritzVectors.subarray(c * k, (c + 1) * k), (x) => x * root);
    fixSign(s);
    return s;
  });
  return { scores, eigenvalues, explainedVariance, iterations, converged };
}

/** An eigenvector's sign is arbitrary; make its largest-|value| entry (first on ties) positive. */
function fixSign(s: Float64Array): void {
  let max = 0;
  for (const x of s) max = Math.max(max, Math.abs(x));
  // Near-ties within rounding would otherwise let noise pick the sign: take the first index.
  const i = s.findIndex((x) => Math.abs(x) >= max * (1 - 1e-9));
  if (i >= 0 && s[i] < 0) for (let j = 0; j < s.length; j++) s[j] = -s[j];
}

/** Linear-interpolated quantile of sorted values (numpy's default method). */
function quantile(sorted: Float64Array, f: number): number {
  const pos = f * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** Scores → 0…255 over their 1st–99th percentile range, clamped; a flat component is 128. */
function toBytes(scores: Float64Array | undefined, k: number): Uint8Array {
  const out = new Uint8Array(k).fill(128);
  if (!scores) return out;
  const sorted = Float64Array.from(scores).sort();
  const lo = quantile(sorted, LOW_PERCENTILE);
  const hi = quantile(sorted, HIGH_PERCENTILE);
  if (!(hi - lo > 1e-12 * Math.max(Math.abs(lo), Math.abs(hi)))) return out;
  for (let i = 0; i < k; i++) {
    const t = Math.min(1, Math.max(0, (scores[i] - lo) / (hi - lo)));
    out[i] = Math.round(t * 255);
  }
  return out;
}

/**
 * Patch features X [gridH·gridW, D] (raster order) → an RGB picture of their top three
 * principal components (PC1 red, PC2 green, PC3 blue), each patch drawn as an
 * upscale × upscale block so it lines up with the model's input crop.
 */
export function featurePcaImage(
  features: Float32Array,
  gridH: number,
  gridW: number,
  upscale = 1,
): FeaturePcaImage {
  if (!Number.isInteger(gridH) || !Number.isInteger(gridW) || gridH < 1 || gridW < 1) {
    throw new RangeError(`feature PCA: grid ${gridH}×${gridW} must be positive integers`);
  }
  if (!Number.isInteger(upscale) || upscale < 1) {
    throw new RangeError(`feature PCA: upscale ${upscale} must be a positive integer`);
  }
  const k = gridH * gridW;
  const d = features.length / k;
  if (!Number.isInteger(d) || d < 1) {
    throw new RangeError(`feature PCA: ${features.length} values do not split into ${k} tokens`);
  }
  const pca = featurePca(features, k, d);
  const channels = [0, 1, 2].map((c) => toBytes(pca.scores[c], k));
  const width = gridW * upscale;
  const height = gridH * upscale;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / upscale) * gridW;
    for (let x = 0; x < width; x++) {
      const token = row + Math.floor(x / upscale);
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = channels[c][token];
    }
  }
  const explainedVariance = [0, 1, 2].map((c) => pca.explainedVariance[c] ?? 0);
  return { width, height, data, explainedVariance };
}
