/**
 * Float64 reference for the fused prefix-causal attention kernels
 * (`shaders/attention_forward.wgsl`, `shaders/attention_backward_*.wgsl`), plus the f32
 * rounding-error bounds the tests use as tolerances.
 *
 * Layouts as in ml-aim's Attention: qkv is [B, T, 3·D] with D = H·dh, ordered [q ; k ; v]
 * along the last axis, each third split into H heads contiguously; the output is [B, T, D]
 * in the same head-contiguous layout; the log-sum-exp is [B, H, T]. Query i of sample b
 * may attend key j iff j < S_b (the bidirectional prefix) or j ≤ i (causal).
 */
import { F32_UNIT_ROUNDOFF as U, gammaF32 } from './matmul';

export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
  headDim: number;
}

/** The prefix-causal mask: may query i attend key j when the prefix has `prefix` tokens? */
export function prefixAttends(i: number, j: number, prefix: number): boolean {
  return j < prefix || j <= i;
}

/** Optional replacement of the mask, for tests that show a wrong mask is detected. */
export type AttendsFn = (batch: number, i: number, j: number) => boolean;

export interface AttentionForwardResult {
  out: Float64Array;
  /** log Σ_j exp(s_ij) per (b, h, i), scores s already scaled by 1/√dh. */
  lse: Float64Array;
}

/** Element index helpers for the [B, T, 3D] qkv layout (part 0 = q, 1 = k, 2 = v). */
function qkvIndexer(s: AttentionShape) {
  const d = s.heads * s.headDim;
  return (b: number, t: number, part: number, h: number) =>
    (b * s.seqLen + t) * 3 * d + part * d + h * s.headDim;
}

/** One (sample, head, query) row: its allowed keys, scaled scores, probabilities and output. */
interface Row {
  keys: number[];
  scores: number[];
  probs: number[];
  lse: number;
  out: Float64Array;
}

function attentionRow(
  qkv: ArrayLike<number>,
  s: AttentionShape,
  b: number,
  h: number,
  i: number,
  attends: (j: number) => boolean,
): Row {
  const at = qkvIndexer(s);
  const scale = 1 / Math.sqrt(s.headDim);
  const q = at(b, i, 0, h);
  const keys: number[] = [];
  const scores: number[] = [];
  for (let j = 0; j < s.seqLen; j++) {
    if (!attends(j)) continue;
    const k = at(b, j, 1, h);
    let dot = 0;
    for (let d = 0; d < s.headDim; d++) dot += qkv[q + d] * qkv[k + d];
    keys.push(j);
    scores.push(dot * scale);
  }
  const max = Math.max(...scores);
  const weights = scores.map((x) => Math.exp(x - max));
  const sum = weights.reduce((x, y) => x + y, 0);
  const probs = weights.map((w) => w / sum);
  const out = new Float64Array(s.headDim);
  keys.forEach((j, n) => {
    const v = at(b, j, 2, h);
    for (let d = 0; d < s.headDim; d++) out[d] += probs[n] * qkv[v + d];
  });
  return { keys, scores, probs, lse: max + Math.log(sum), out };
}

function rowAttends(
  prefixLengths: ArrayLike<number>,
  b: number,
  i: number,
  mask?: AttendsFn,
): (j: number) => boolean {
  return mask ? (j) => mask(b, i, j) : (j) => prefixAttends(i, j, prefixLengths[b]);
}

/** softmax(q·kᵀ/√dh + mask)·v per head, and the log-sum-exp of each row. */
export function attentionForwardReference(
  qkv: ArrayLike<number>,
  prefixLengths: ArrayLike<number>,
  s: AttentionShape,
  mask?: AttendsFn,
): AttentionForwardResult {
  const { batch, seqLen: T, heads: H, headDim: dh } = s;
  const D = H * dh;
  const out = new Float64Array(batch * T * D);
  const lse = new Float64Array(batch * H * T);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const row = attentionRow(qkv, s, b, h, i, rowAttends(prefixLengths, b, i, mask));
        out.set(row.out, (b * T + i) * D + h * dh);
        lse[(b * H + h) * T + i] = row.lse;
      }
    }
  }
  return { out, lse };
}

/**
 * d(Σ dOut·out)/d qkv, [B, T, 3D], by the flash-attention formulas: Δ_i = dO_i·o_i,
 * dP_ij = dO_i·v_j, dS_ij = P_ij (dP_ij − Δ_i), dQ_i = scale Σ_j dS_ij k_j,
 * dK_j = scale Σ_i dS_ij q_i, dV_j = Σ_i P_ij dO_i.
 */
export function attentionBackwardReference(
  qkv: ArrayLike<number>,
  dOut: ArrayLike<number>,
  prefixLengths: ArrayLike<number>,
  s: AttentionShape,
  mask?: AttendsFn,
): Float64Array {
  const { batch, seqLen: T, heads: H, headDim: dh } = s;
  const D = H * dh;
  const scale = 1 / Math.sqrt(dh);
  const at = qkvIndexer(s);
  const grad = new Float64Array(batch * T * 3 * D);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const row = attentionRow(qkv, s, b, h, i, rowAttends(prefixLengths, b, i, mask));
        const dO = (b * T + i) * D + h * dh;
        const q = at(b, i, 0, h);
        let delta = 0;
        for (let d = 0; d < dh; d++) delta += dOut[dO + d] * row.out[d];
        row.keys.forEach((j, n) => {
          const k = at(b, j, 1, h);
          const v = at(b, j, 2, h);
          let dP = 0;
          for (let d = 0; d < dh; d++) dP += dOut[dO + d] * qkv[v + d];
          const p = row.probs[n];
          const dS = p * (dP - delta);
          for (let d = 0; d < dh; d++) {
            grad[q + d] += scale * dS * qkv[k + d];
            grad[k + d] += scale * dS * qkv[q + d];
            grad[v + d] += p * dOut[dO + d];
          }
        });
      }
    }
  }
  return grad;
}

/** 2⁻²³: an upper bound on one ULP of an f32 relative to the value. */
const ULP = 2 ** -23;

/**
 * Relative error bound of an f32 exp(x) as the kernels compute it: WGSL (like Vulkan)
 * guarantees exp to 3 + 2|x| ULP, and the subtraction forming x rounds by u·|x|.
 */
function expError(x: number): number {
  return (3 + 2 * Math.abs(x)) * ULP + U * Math.abs(x);
}

/**
 * Error of an f32 score s = fl(fl(q·k)·fl(1/√dh)): the dot obeys |ŝ − s| ≤ γ_dh·Σ|q||k|
 * (any summation order, Higham §3.1), then the rounded scale and the product add 2u·|s|.
 */
function scoreError(
  qkv: ArrayLike<number>,
  qAt: number,
  kAt: number,
  dh: number,
  score: number,
): number {
  let absDot = 0;
  for (let d = 0; d < dh; d++) absDot += Math.abs(qkv[qAt + d] * qkv[kAt + d]);
  return (gammaF32(dh) * absDot) / Math.sqrt(dh) + 2 * U * Math.abs(score);
}

/**
 * First-order f32 error bounds of the forward kernel, per output element and per LSE.
 * Perturbing score j by δ_j and weight j by a relative ε_j moves o by Σ_j p_j|v_j − o|(δ_j + ε_j)
 * (∂o/∂s_j = p_j(v_j − o)); the online softmax's rescale factors multiply the accumulator and the
 * running sum by the same f32 value, so their errors cancel in o (not in the LSE, where each of
 * the ≤ `maxRescales` factors adds its exp error). Accumulating Σ p·v and Σ p over ≤ T keys with
 * those rescales costs γ_{2T+2}, the final division 2.5 ULP, log 3 ULP or 2⁻²¹ absolute near 1.
 * A factor 1.01 covers the second-order terms (O(u²·T) relative).
 */
export function attentionForwardErrorBound(
  qkv: ArrayLike<number>,
  prefixLengths: ArrayLike<number>,
  s: AttentionShape,
  maxRescales: number,
): AttentionForwardResult {
  const { batch, seqLen: T, heads: H, headDim: dh } = s;
  const D = H * dh;
  const at = qkvIndexer(s);
  const out = new Float64Array(batch * T * D);
  const lse = new Float64Array(batch * H * T);
  const gammaSum = gammaF32(2 * T + 2);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const row = attentionRow(qkv, s, b, h, i, rowAttends(prefixLengths, b, i));
        const max = Math.max(...row.scores);
        const min = Math.min(...row.scores);
        const weightError = row.keys.map(
          (j, n) =>
            scoreError(qkv, at(b, i, 0, h), at(b, j, 1, h), dh, row.scores[n]) +
            expError(row.scores[n] - max),
        );
        for (let d = 0; d < dh; d++) {
          let spread = 0;
          let absSum = 0;
          row.keys.forEach((j, n) => {
            const v = qkv[at(b, j, 2, h) + d];
            spread += row.probs[n] * Math.abs(v - row.out[d]) * weightError[n];
            absSum += row.probs[n] * Math.abs(v);
          });
          const o = Math.abs(row.out[d]);
          out[(b * T + i) * D + h * dh + d] =
            1.01 * (spread + gammaSum * (absSum + o) + 5 * U * o) + 1e-30;
        }
        const rescaleError = (3 * maxRescales + 2 * (max - min)) * ULP;
        const weighted = row.probs.reduce((acc, p, n) => acc + p * weightError[n], 0);
        const logError = 2 ** -21 + 3 * ULP * Math.log(row.keys.length);
        lse[(b * H + h) * T + i] =
          1.01 * (weighted + rescaleError + gammaSum + logError + 2 * U * Math.abs(row.lse));
      }
    }
  }
  return { out, lse };
}

/**
 * First-order f32 error bounds of the backward kernels, per element of dqkv, when they are fed
 * `out32` and `lse32` (the f32-rounded forward results). With P_ij = exp(s_ij − L_i):
 *  - P̂ has relative error e_ij = δs_ij + |L̂_i − L_i| + expError(s_ij − L_i);
 *  - dP̂ (a dh-long dot) errs by γ_dh·Σ|dO||v|, Δ̂ by γ_dh·Σ|dO||o| + Σ|dO||ô − o|;
 *  - dS = P(dP − Δ) then errs by P·e·|dP − Δ| + P·(errors of dP, Δ, the subtraction) + u|dS|;
 *  - each of dV = Σ_i P dO, dK = scale Σ_i dS q, dQ = scale Σ_j dS k sums those errors times
 *    the other factor, plus γ_{T+2} times the sum of absolute products (accumulation, scale).
 */
export function attentionBackwardErrorBound(
  qkv: ArrayLike<number>,
  dOut: ArrayLike<number>,
  out32: ArrayLike<number>,
  lse32: ArrayLike<number>,
  prefixLengths: ArrayLike<number>,
  s: AttentionShape,
): Float64Array {
  const { batch, seqLen: T, heads: H, headDim: dh } = s;
  const D = H * dh;
  const scale = 1 / Math.sqrt(dh);
  const at = qkvIndexer(s);
  const gammaDot = gammaF32(dh);
  const gammaSum = gammaF32(T + 2);
  // Accumulate Σ err·|factor| and Σ |value·factor| separately, combine at the end.
  const errSum = new Float64Array(batch * T * 3 * D);
  const absSum = new Float64Array(batch * T * 3 * D);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const row = attentionRow(qkv, s, b, h, i, rowAttends(prefixLengths, b, i));
        const L = lse32[(b * H + h) * T + i];
        const dO = (b * T + i) * D + h * dh;
        const q = at(b, i, 0, h);
        let delta = 0;
        let deltaError = 0;
        for (let d = 0; d < dh; d++) {
          delta += dOut[dO + d] * row.out[d];
          deltaError +=
            Math.abs(dOut[dO + d]) *
            (gammaDot * Math.abs(out32[dO + d]) + Math.abs(out32[dO + d] - row.out[d]));
        }
        row.keys.forEach((j, n) => {
          const k = at(b, j, 1, h);
          const v = at(b, j, 2, h);
          let dP = 0;
          let dPAbs = 0;
          for (let d = 0; d < dh; d++) {
            dP += dOut[dO + d] * qkv[v + d];
            dPAbs += Math.abs(dOut[dO + d] * qkv[v + d]);
          }
          const p = row.probs[n];
          const x = row.scores[n] - L;
          const probError =
            scoreError(qkv, q, k, dh, row.scores[n]) + Math.abs(L - row.lse) + expError(x);
          const dS = p * (dP - delta);
          const dSError =
            p * probError * Math.abs(dP - delta) +
            p * (gammaDot * dPAbs + deltaError + U * Math.abs(dP - delta)) +
            U * Math.abs(dS);
          for (let d = 0; d < dh; d++) {
            const g = dOut[dO + d];
            errSum[q + d] += scale * dSError * Math.abs(qkv[k + d]);
            absSum[q + d] += scale * Math.abs(dS * qkv[k + d]);
            errSum[k + d] += scale * dSError * Math.abs(qkv[q + d]);
            absSum[k + d] += scale * Math.abs(dS * qkv[q + d]);
            errSum[v + d] += p * probError * Math.abs(g);
            absSum[v + d] += p * Math.abs(g);
          }
        });
      }
    }
  }
  return errSum.map((e, n) => 1.01 * (e + gammaSum * absSum[n]) + 1e-30);
}
