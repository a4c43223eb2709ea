/**
 * The exported graph's function in float64 (the ground truth of the ONNX tests): ml-aim's
 * trunk through src/model/reference.ts with full (bidirectional) attention, then either the
 * probe layers' mean and ml-aim's attentive probe, or post_trunk_norm of the last block.
 * Square images and 3 channels, as src/model's reference supports.
 */
import type { AimConfig } from '../model/config';
import {
  bidirectionalPrefix,
  linearReference,
  param,
  trunkForwardReference,
  type ParamValues,
} from '../model/reference';
import { layerNormReference } from '../reference/layernorm';
import type { AimOnnxConfig } from './checkpoint';
import type { FeatureMode } from './export';

export interface InferenceReference {
  /** [B, K, D] */
  features: Float64Array;
  /** [B, classes] when the parameters include the probe head. */
  logits?: Float64Array;
}

function trunkConfig(c: AimOnnxConfig, depth: number): AimConfig {
  if (c.imageHeight !== c.imageWidth || c.patchHeight !== c.patchWidth || c.channels !== 3) {
    throw new RangeError('inference reference: square images, square patches and 3 channels only');
  }
  return {
    name: 'onnx-reference',
    imageSize: c.imageHeight,
    patchSize: c.patchHeight,
    channels: 3,
    width: c.embedDim,
    depth,
    heads: c.numHeads,
    mlpRatio: c.mlpHidden / c.embedDim,
    head: { width: 4, depth: 0, extraNormTerm: false },
    trunkNormEps: c.normEps,
    headNormEps: 1e-5,
    inferenceOnly: true,
  };
}

export function aimInferenceReference(
  c: AimOnnxConfig,
  params: ParamValues,
  images: ArrayLike<number>,
  batch: number,
  mode: FeatureMode,
): InferenceReference {
  const depth = mode === 'probe-layers' ? Math.max(...c.probeLayers) + 1 : c.numBlocks;
  const tc = trunkConfig(c, depth);
  const K = (c.imageHeight / c.patchHeight) * (c.imageWidth / c.patchWidth);
  const D = c.embedDim;
  const order = Uint32Array.from({ length: K }, (_, i) => i);
  const trunk = trunkForwardReference(tc, params, {
    batch,
    images,
    order,
    prefixLengths: bidirectionalPrefix(tc, batch),
  });
  if (mode === 'post-trunk-norm') {
    const last = trunk.blocks[depth - 1].output;
    const normed = layerNormReference(
      last,
      param(params, 'trunk.post_trunk_norm.weight'),
      param(params, 'trunk.post_trunk_norm.bias'),
      batch * K,
      D,
      c.normEps,
    );
    return { features: normed.y };
  }
  const features = new Float64Array(batch * K * D);
  for (const l of c.probeLayers) {
    const out = trunk.blocks[l].output;
    for (let i = 0; i < features.length; i++) features[i] += out[i] / c.probeLayers.length;
  }
  if (!params.has('head.cls_token')) return { features };
  return { features, logits: attentionProbeReference(c, params, features, batch, K) };
}

/** ml-aim's AttentionPoolingClassifier in eval mode, float64. */
export function attentionProbeReference(
  c: AimOnnxConfig,
  params: ParamValues,
  x: ArrayLike<number>,
  batch: number,
  tokens: number,
): Float64Array {
  const D = c.embedDim;
  const H = c.numHeads;
  const dh = D / H;
  const rows = batch * tokens;
  const y = Float64Array.from(x);
  if (params.has('head.bn.running_mean')) {
    const mean = param(params, 'head.bn.running_mean');
    const variance = param(params, 'head.bn.running_var');
    for (let i = 0; i < y.length; i++) {
      const ch = i % D;
      y[i] = (y[i] - mean[ch]) / Math.sqrt(variance[ch] + 1e-6);
    }
  }
  const k = linearReference(
    y,
    rows,
    param(params, 'head.k.weight'),
    D,
    D,
    params.get('head.k.bias'),
  );
  const v = linearReference(
    y,
    rows,
    param(params, 'head.v.weight'),
    D,
    D,
    params.get('head.v.bias'),
  );
  const cls = param(params, 'head.cls_token');
  const queries = cls.length / D;
  const pooled = new Float64Array(batch * D);
  const scores = new Float64Array(tokens);
  for (let b = 0; b < batch; b++) {
    for (let qi = 0; qi < queries; qi++) {
      for (let h = 0; h < H; h++) {
        let max = -Infinity;
        for (let t = 0; t < tokens; t++) {
          let s = 0;
          for (let d = 0; d < dh; d++)
            s += cls[qi * D + h * dh + d] * k[(b * tokens + t) * D + h * dh + d];
          scores[t] = s / Math.sqrt(dh);
          max = Math.max(max, scores[t]);
        }
        let sum = 0;
        for (let t = 0; t < tokens; t++) sum += scores[t] = Math.exp(scores[t] - max);
        for (let t = 0; t < tokens; t++) {
          const p = scores[t] / sum / queries;
          for (let d = 0; d < dh; d++)
            pooled[b * D + h * dh + d] += p * v[(b * tokens + t) * D + h * dh + d];
        }
      }
    }
  }
  return linearReference(
    pooled,
    batch,
    param(params, 'head.linear.weight'),
    c.numClasses,
    D,
    params.get('head.linear.bias'),
  );
}
