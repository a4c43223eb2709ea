/**
 * Float64 references of the probes' kernels (shaders/probe_*.wgsl) and of a whole probe, as
 * ml-aim's AttentionPoolingClassifier computes it (../shared/reference/ml-aim.md, "Attentive
 * probe") and the paper's linear probe (BatchNorm without affine on mean-pooled features, a
 * Linear classifier):
 *   features x [B, N, D] = mean of the probe layers' block outputs (no post-trunk norm)
 *   x̂ = BatchNorm1d(affine=False, eps 1e-6)(x) per channel over the B·N tokens
 *   attentive: q = cls_token, k = x̂·Wkᵀ, v = x̂·Wvᵀ, per head softmax(q_h·k_hᵀ/√dh)·v_h
 *   linear:    p = mean over tokens of x, then BatchNorm over the B samples
 *   logits = p·Wᵀ + b
 * It imports nothing from src/kernels (the oracle shares no code with what it checks).
 */

export interface PoolShape {
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
}

/** torch.nn.BatchNorm1d's defaults where ml-aim keeps them (eps is ml-aim's 1e-6). */
export const PROBE_BN = { eps: 1e-6, momentum: 0.1 } as const;

/** The mean of `layers` equally long arrays (ml-aim: stack the probe layers' outputs, mean). */
export function layerMeanReference(layers: readonly ArrayLike<number>[]): Float64Array {
  if (layers.length === 0) throw new RangeError('layer mean: no layers');
  const n = layers[0].length;
  const out = new Float64Array(n);
  for (const l of layers) {
    if (l.length !== n) throw new RangeError('layer mean: layers differ in size');
    for (let i = 0; i < n; i++) out[i] += l[i];
  }
  for (let i = 0; i < n; i++) out[i] /= layers.length;
  return out;
}

/** out[b, c] = Σ_t x[b, t, c] / N. */
export function meanPoolReference(
  x: ArrayLike<number>,
  batch: number,
  tokens: number,
  dim: number,
): Float64Array {
  const out = new Float64Array(batch * dim);
  for (let b = 0; b < batch; b++)
    for (let t = 0; t < tokens; t++)
      for (let c = 0; c < dim; c++) out[b * dim + c] += x[(b * tokens + t) * dim + c];
  for (let i = 0; i < out.length; i++) out[i] /= tokens;
  return out;
}

export interface BatchNormStats {
  mean: Float64Array;
  /** Biased variance (what normalises in training). */
  variance: Float64Array;
  invStd: Float64Array;
}

/** Per-channel batch statistics of x [rows, dim] (rows = B·N tokens). */
export function batchNormStatsReference(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number = PROBE_BN.eps,
): BatchNormStats {
  const mean = new Float64Array(dim);
  const variance = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dim; c++) mean[c] += x[r * dim + c];
  for (let c = 0; c < dim; c++) mean[c] /= rows;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < dim; c++) variance[c] += (x[r * dim + c] - mean[c]) ** 2;
  for (let c = 0; c < dim; c++) variance[c] /= rows;
  const invStd = variance.map((v) => 1 / Math.sqrt(v + eps));
  return { mean, variance, invStd };
}

/**
 * torch's running-statistics update in training mode: running ← (1 − m)·running + m·batch,
 * the variance unbiased (rows / (rows − 1)). torch refuses rows = 1 in training.
 */
export function batchNormRunningUpdateReference(
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  stats: BatchNormStats,
  rows: number,
  momentum: number = PROBE_BN.momentum,
): { runningMean: Float64Array; runningVar: Float64Array } {
  if (rows < 2) throw new RangeError('BatchNorm: training needs more than one value per channel');
  const dim = stats.mean.length;
  const mean = new Float64Array(dim);
  const variance = new Float64Array(dim);
  for (let c = 0; c < dim; c++) {
    mean[c] = (1 - momentum) * runningMean[c] + momentum * stats.mean[c];
    const unbiased = (stats.variance[c] * rows) / (rows - 1);
    variance[c] = (1 - momentum) * runningVar[c] + momentum * unbiased;
  }
  return { runningMean: mean, runningVar: variance };
}

/** y[r, c] = (x[r, c] − mean[c])·invStd[c]. */
export function batchNormApplyReference(
  x: ArrayLike<number>,
  rows: number,
  mean: ArrayLike<number>,
  invStd: ArrayLike<number>,
): Float64Array {
  const dim = mean.length;
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < dim; c++) y[r * dim + c] = (x[r * dim + c] - mean[c]) * invStd[c];
  return y;
}

/** Eval mode: normalised with the running statistics. */
export function batchNormEvalReference(
  x: ArrayLike<number>,
  rows: number,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  eps: number = PROBE_BN.eps,
): Float64Array {
  const invStd = Array.from(runningVar, (v) => 1 / Math.sqrt(v + eps));
  return batchNormApplyReference(x, rows, runningMean, invStd);
}

/** y = x·Wᵀ (+ k as [rows, out]): a bias-free Linear, W [out, in]. */
export function linearReference(
  x: ArrayLike<number>,
  rows: number,
  weight: ArrayLike<number>,
  outDim: number,
  bias?: ArrayLike<number>,
): Float64Array {
  const inDim = weight.length / outDim;
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outDim; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * weight[o * inDim + i];
      y[r * outDim + o] = s;
    }
  return y;
}

/** Attention pooling forward: pooled [B, D] and the probabilities [B, H, N]. */
export function attentionPoolForwardReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  s: PoolShape,
): { pooled: Float64Array; probs: Float64Array } {
  const { batch: B, tokens: N, heads: H, headDim: dh } = s;
  const D = H * dh;
  const scale = 1 / Math.sqrt(dh);
  const pooled = new Float64Array(B * D);
  const probs = new Float64Array(B * H * N);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const scores = new Float64Array(N);
      for (let n = 0; n < N; n++) {
        let dot = 0;
        for (let j = 0; j < dh; j++) dot += q[h * dh + j] * k[(b * N + n) * D + h * dh + j];
        scores[n] = dot * scale;
      }
      const m = Math.max(...scores);
      let sum = 0;
      for (let n = 0; n < N; n++) sum += Math.exp(scores[n] - m);
      for (let n = 0; n < N; n++) {
        const p = Math.exp(scores[n] - m) / sum;
        probs[(b * H + h) * N + n] = p;
        for (let j = 0; j < dh; j++)
          pooled[b * D + h * dh + j] += p * v[(b * N + n) * D + h * dh + j];
      }
    }
  return { pooled, probs };
}

/** Attention pooling backward: d cls_token (summed over samples) and per sample, dk, dv. */
export function attentionPoolBackwardReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dPooled: ArrayLike<number>,
  s: PoolShape,
): { dq: Float64Array; dqSample: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { batch: B, tokens: N, heads: H, headDim: dh } = s;
  const D = H * dh;
  const scale = 1 / Math.sqrt(dh);
  const { probs } = attentionPoolForwardReference(q, k, v, s);
  const dq = new Float64Array(D);
  const dqSample = new Float64Array(B * D);
  const dk = new Float64Array(B * N * D);
  const dv = new Float64Array(B * N * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const dp = new Float64Array(N);
      let delta = 0;
      for (let n = 0; n < N; n++) {
        const p = probs[(b * H + h) * N + n];
        for (let j = 0; j < dh; j++) {
          const at = (b * N + n) * D + h * dh + j;
          const g = dPooled[b * D + h * dh + j];
          dp[n] += g * v[at];
          dv[at] = p * g;
        }
        delta += p * dp[n];
      }
      for (let n = 0; n < N; n++) {
        const ds = probs[(b * H + h) * N + n] * (dp[n] - delta);
        for (let j = 0; j < dh; j++) {
          const at = (b * N + n) * D + h * dh + j;
          dk[at] = scale * ds * q[h * dh + j];
          dqSample[b * D + h * dh + j] += scale * ds * k[at];
        }
      }
    }
  for (let b = 0; b < B; b++) for (let i = 0; i < D; i++) dq[i] += dqSample[b * D + i];
  return { dq, dqSample, dk, dv };
}

/** Mean softmax cross-entropy over the batch and d loss / d logits. */
export function crossEntropyReference(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): { loss: number; dlogits: Float64Array } {
  const B = labels.length;
  const dlogits = new Float64Array(B * classes);
  let total = 0;
  for (let b = 0; b < B; b++) {
    const row = Array.from({ length: classes }, (_, c) => logits[b * classes + c]);
    const m = Math.max(...row);
    const sum = row.reduce((a, x) => a + Math.exp(x - m), 0);
    total += m + Math.log(sum) - row[labels[b]];
    for (let c = 0; c < classes; c++)
      dlogits[b * classes + c] = (Math.exp(row[c] - m) / sum - (c === labels[b] ? 1 : 0)) / B;
  }
  return { loss: total / B, dlogits };
}

/** A probe's parameters by ml-aim key (head.*), float. */
export type ProbeParams = ReadonlyMap<string, ArrayLike<number>>;

export interface ProbeShape {
  batch: number;
  tokens: number;
  dim: number;
  heads: number;
  classes: number;
}

function param(p: ProbeParams, key: string): ArrayLike<number> {
  const v = p.get(key);
  if (!v) throw new RangeError(`probe: missing ${key}`);
  return v;
}

/**
 * A whole probe's logits on features [B, N, D]: BatchNorm with the batch's statistics
 * (`mode` 'train') or the running ones ('eval'), then attentive pooling or the token mean
 * (`kind`), then the classifier.
 */
export function probeLogitsReference(
  kind: 'attentive' | 'linear',
  features: ArrayLike<number>,
  p: ProbeParams,
  s: ProbeShape,
  mode: 'train' | 'eval',
): Float64Array {
  const { batch: B, tokens: N, dim: D, heads: H, classes: C } = s;
  const pooledInput = kind === 'linear' ? meanPoolReference(features, B, N, D) : features;
  const rows = kind === 'linear' ? B : B * N;
  const normed =
    mode === 'train'
      ? (() => {
          const st = batchNormStatsReference(pooledInput, rows, D);
          return batchNormApplyReference(pooledInput, rows, st.mean, st.invStd);
        })()
      : batchNormEvalReference(
          pooledInput,
          rows,
          param(p, 'head.bn.running_mean'),
          param(p, 'head.bn.running_var'),
        );
  let pooled: Float64Array = normed;
  if (kind === 'attentive') {
    const k = linearReference(normed, rows, param(p, 'head.k.weight'), D);
    const v = linearReference(normed, rows, param(p, 'head.v.weight'), D);
    pooled = attentionPoolForwardReference(param(p, 'head.cls_token'), k, v, {
      batch: B,
      tokens: N,
      heads: H,
      headDim: D / H,
    }).pooled;
  }
  return linearReference(pooled, B, param(p, 'head.linear.weight'), C, p.get('head.linear.bias'));
}

/** Mean cross-entropy of a probe in training mode (batch statistics): what its gradient is of. */
export function probeLossReference(
  kind: 'attentive' | 'linear',
  features: ArrayLike<number>,
  labels: ArrayLike<number>,
  p: ProbeParams,
  s: ProbeShape,
): number {
  const logits = probeLogitsReference(kind, features, p, s, 'train');
  return crossEntropyReference(logits, labels, s.classes).loss;
}

/**
 * Every parameter gradient of the probe's mean cross-entropy (training mode), by chaining
 * the backward references above: classifier, then (attentive) pooling and k/v Linears.
 */
export function probeGradientsReference(
  kind: 'attentive' | 'linear',
  features: ArrayLike<number>,
  labels: ArrayLike<number>,
  p: ProbeParams,
  s: ProbeShape,
): Map<string, Float64Array> {
  const { batch: B, tokens: N, dim: D, heads: H, classes: C } = s;
  const pooledInput = kind === 'linear' ? meanPoolReference(features, B, N, D) : features;
  const rows = kind === 'linear' ? B : B * N;
  const st = batchNormStatsReference(pooledInput, rows, D);
  const normed = batchNormApplyReference(pooledInput, rows, st.mean, st.invStd);
  const shape = { batch: B, tokens: N, heads: H, headDim: D / H };
  let pooled: Float64Array = normed;
  let k: Float64Array | undefined;
  let v: Float64Array | undefined;
  if (kind === 'attentive') {
    k = linearReference(normed, rows, param(p, 'head.k.weight'), D);
    v = linearReference(normed, rows, param(p, 'head.v.weight'), D);
    pooled = attentionPoolForwardReference(param(p, 'head.cls_token'), k, v, shape).pooled;
  }
  const W = param(p, 'head.linear.weight');
  const logits = linearReference(pooled, B, W, C, p.get('head.linear.bias'));
  const { dlogits } = crossEntropyReference(logits, labels, C);
  const grads = new Map<string, Float64Array>();
  const dW = new Float64Array(C * D);
  const db = new Float64Array(C);
  const dPooled = new Float64Array(B * D);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++) {
      const g = dlogits[b * C + c];
      db[c] += g;
      for (let i = 0; i < D; i++) {
        dW[c * D + i] += g * pooled[b * D + i];
        dPooled[b * D + i] += g * W[c * D + i];
      }
    }
  grads.set('head.linear.weight', dW);
  if (p.has('head.linear.bias')) grads.set('head.linear.bias', db);
  if (kind === 'attentive') {
    const back = attentionPoolBackwardReference(param(p, 'head.cls_token'), k!, v!, dPooled, shape);
    grads.set('head.cls_token', back.dq);
    // dW = dᵀ·x̂ for k = x̂·Wᵀ.
    const weightGrad = (d: Float64Array) => {
      const g = new Float64Array(D * D);
      for (let r = 0; r < rows; r++)
        for (let o = 0; o < D; o++) {
          const dy = d[r * D + o];
          if (dy === 0) continue;
          for (let i = 0; i < D; i++) g[o * D + i] += dy * normed[r * D + i];
        }
      return g;
    };
    grads.set('head.k.weight', weightGrad(back.dk));
    grads.set('head.v.weight', weightGrad(back.dv));
  }
  return grads;
}
