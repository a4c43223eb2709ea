/**
 * The AIM v1 pre-training model in float64, composed from the per-kernel references
 * (src/reference/*), as the ground truth of the WGSL model (src/model/gpuModel.ts):
 *
 *   patches   = patchify(images, order)                       (channel, row, col) per patch
 *   x₀        = LN_patch(patches·Wpᵀ + bp) + pe_D[order]        ml-aim's preprocessor
 *   x_{l+1}   = m + fc2(gelu(fc1(LN₂(m)))),
 *        m    = x_l + proj(attn(LN₁(x_l)))                      prefix-causal, ml-aim's blocks
 *   z         = post_trunk_norm(x_L)
 *   h₀        = z·W_inᵀ + b_in + pe_W[order]                    ml-l3m's decoder projection
 *   h_{j+1}   = r + fc2(gelu(fc1(LN(r)))),  r = h_j  (or h_j + LN_extra(h_j) with extraNormTerm)
 *   pred      = LN_head(h_N)·W_outᵀ + b_out                     p·p·3 values, (row, col, channel)
 *               (head 'none', the paper's Table 3e: pred = z·W_outᵀ + b_out, nothing between)
 *   loss      = pixel MSE of pred at i against the target patch at i + 1 (normalised per
 *               patch, or raw: the paper's Table 3a), averaged over the positions outside
 *               each sample's prefix.
 *
 * Token t of every image is the patch at raster index order[t]; both positional tables are
 * indexed by that true position (with the raster order, as in ml-l3m, row t is token t).
 * Rows of every activation are (sample, token), sample-major: [B·K, width].
 */
import {
  gridSize,
  headDim,
  headKindOf,
  numPatches,
  patchValues,
  pixelTargetsOf,
  type AimConfig,
} from './config';
import {
  attentionForwardReference,
  prefixAttends,
  type AttentionShape,
} from '../reference/attention';
import { gelu } from '../reference/gelu';
import { layerNormReference, type LayerNormForwardReference } from '../reference/layernorm';
import { matmulReference } from '../reference/matmul';
import { patchMseLossReference } from '../reference/patchMseLoss';
import { patchifyReference } from '../reference/patchify';
import { addPositionalEmbeddingReference, sinCosPositionalEmbedding } from '../reference/posembed';

/** Parameter values by state-dict key (f32 or float64). */
export type ParamValues = ReadonlyMap<string, ArrayLike<number>>;

export interface ModelInputs {
  batch: number;
  /** [B, 3, H, W], already ImageNet-normalised. */
  images: ArrayLike<number>;
  /** [K]: token t is the patch at raster index order[t]. */
  order: ArrayLike<number>;
  /** [B]: tokens < S_b are sample b's bidirectional prefix (S_b = K: fully bidirectional). */
  prefixLengths: ArrayLike<number>;
}

export function param(params: ParamValues, name: string): ArrayLike<number> {
  const v = params.get(name);
  if (!v) throw new RangeError(`model reference: missing parameter ${name}`);
  return v;
}

/** y = x·Wᵀ (+ bias) for x [rows, in] and a Linear weight W [out, in]. */
export function linearReference(
  x: ArrayLike<number>,
  rows: number,
  w: ArrayLike<number>,
  out: number,
  inDim: number,
  bias?: ArrayLike<number>,
): Float64Array {
  const s = { batch: 1, m: rows, n: out, k: inDim, transA: false, transB: true, broadcastB: true };
  const y = matmulReference(x, w, s);
  if (bias) for (let i = 0; i < y.length; i++) y[i] += bias[i % out];
  return y;
}

export function addInto(a: Float64Array, b: ArrayLike<number>): Float64Array {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
  return a;
}

/** Saved activations of one trunk block (what the backward needs). */
export interface TrunkBlockCache {
  input: Float64Array;
  ln1: LayerNormForwardReference;
  /** [B·K, 3D]: [q ; k ; v]. */
  qkv: Float64Array;
  /** [B·K, D]: attention output before the projection. */
  attn: Float64Array;
  /** input + proj(attn). */
  mid: Float64Array;
  ln2: LayerNormForwardReference;
  /** fc1 output (GELU's input), [B·K, 4D]. */
  pre: Float64Array;
  act: Float64Array;
  output: Float64Array;
}

export interface TrunkForward {
  patches: Float32Array;
  /** Patch embedding before its LayerNorm. */
  embedded: Float64Array;
  patchNorm: LayerNormForwardReference;
  /** ml-aim's tokens_after_preprocessor, [B, K, D]. */
  tokens: Float64Array;
  blocks: TrunkBlockCache[];
}

export function attentionShapeOf(c: AimConfig, batch: number): AttentionShape {
  return { batch, seqLen: numPatches(c), heads: c.heads, headDim: headDim(c) };
}

/** ml-aim's trunk (without post_trunk_norm): the preprocessor's tokens and every block's output. */
export function trunkForwardReference(
  c: AimConfig,
  params: ParamValues,
  inputs: ModelInputs,
  /** Blocks to run (default all): a view of block l needs only the first l + 1. */
  blockCount = c.depth,
): TrunkForward {
  const { batch } = inputs;
  const K = numPatches(c);
  const D = c.width;
  const hidden = c.mlpRatio * D;
  const R = batch * K;
  const P = patchValues(c);
  const g = gridSize(c);
  const imageShape = { batch, channels: c.channels, height: c.imageSize, width: c.imageSize };
  const patches = patchifyReference(
    inputs.images,
    imageShape,
    c.patchSize,
    'embedding',
    inputs.order,
  );
  const embedded = linearReference(
    patches,
    R,
    param(params, 'preprocessor.patchifier.proj.weight'),
    D,
    P,
    param(params, 'preprocessor.patchifier.proj.bias'),
  );
  const patchNorm = layerNormReference(
    embedded,
    param(params, 'preprocessor.patchifier.norm.weight'),
    param(params, 'preprocessor.patchifier.norm.bias'),
    R,
    D,
    c.trunkNormEps,
  );
  const table = sinCosPositionalEmbedding(g, g, D);
  const tokens = addPositionalEmbeddingReference(patchNorm.y, table, batch, K, D, inputs.order);
  const shape = attentionShapeOf(c, batch);
  const blocks: TrunkBlockCache[] = [];
  let x = tokens;
  for (let l = 0; l < Math.min(blockCount, c.depth); l++) {
    const key = (s: string) => param(params, `trunk.blocks.${l}.${s}`);
    const ln1 = layerNormReference(
      x,
      key('norm_1.weight'),
      key('norm_1.bias'),
      R,
      D,
      c.trunkNormEps,
    );
    const qkv = linearReference(ln1.y, R, key('attn.qkv.weight'), 3 * D, D);
    const attn = attentionForwardReference(qkv, inputs.prefixLengths, shape).out;
    const mid = addInto(linearReference(attn, R, key('attn.proj.weight'), D, D), x);
    const ln2 = layerNormReference(
      mid,
      key('norm_2.weight'),
      key('norm_2.bias'),
      R,
      D,
      c.trunkNormEps,
    );
    const pre = linearReference(ln2.y, R, key('mlp.fc1.weight'), hidden, D);
    const act = pre.map(gelu);
    const output = addInto(linearReference(act, R, key('mlp.fc2.weight'), D, hidden), mid);
    blocks.push({ input: x, ln1, qkv, attn, mid, ln2, pre, act, output });
    x = output;
  }
  return { patches, embedded, patchNorm, tokens, blocks };
}

/**
 * A block's attention probabilities from its saved qkv, [B, H, T, T] (sample, head, query,
 * key; sequence order): exp(q_i·k_j/√dh − lse_i) with the log-sum-exp of the attention
 * reference itself, so the rows are those its output was computed with; exactly 0 where the
 * prefix-causal mask forbids key j.
 */
export function attentionProbabilitiesReference(
  qkv: ArrayLike<number>,
  prefixLengths: ArrayLike<number>,
  s: AttentionShape,
): Float64Array {
  const { batch, seqLen: T, heads: H, headDim: dh } = s;
  const D = H * dh;
  const { lse } = attentionForwardReference(qkv, prefixLengths, s);
  const probs = new Float64Array(batch * H * T * T);
  const scale = 1 / Math.sqrt(dh);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const q = (b * T + i) * 3 * D + h * dh;
        const row = ((b * H + h) * T + i) * T;
        for (let j = 0; j < T; j++) {
          if (!prefixAttends(i, j, prefixLengths[b])) continue;
          const k = (b * T + j) * 3 * D + D + h * dh;
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += qkv[q + d] * qkv[k + d];
          probs[row + j] = Math.exp(dot * scale - lse[(b * H + h) * T + i]);
        }
      }
  return probs;
}

/** Saved activations of one head block. */
export interface HeadBlockCache {
  input: Float64Array;
  /** With extraNormTerm: LN_extra(input); the residual stream r = input + extra.y. */
  extra?: LayerNormForwardReference;
  residual: Float64Array;
  ln: LayerNormForwardReference;
  pre: Float64Array;
  act: Float64Array;
  output: Float64Array;
}

/** The MLP head's saved activations (absent without a head). */
export interface MlpHeadForward {
  /** h₀ = proj_in(z) + head positions. */
  input: Float64Array;
  blocks: HeadBlockCache[];
  norm: LayerNormForwardReference;
}

export interface ModelForward {
  trunk: TrunkForward;
  /** post_trunk_norm of the last block's output. */
  postNorm: LayerNormForwardReference;
  /** Absent for the head 'none' (proj_out reads postNorm's output). */
  mlpHead?: MlpHeadForward;
  /** [B, K, p·p·3]. */
  pred: Float64Array;
  /** [B, K, p·p·3]: the same images patchified in (row, col, channel) order, same order. */
  targets: Float32Array;
  /** [B, K]: each counted position's loss, 0 elsewhere. */
  perPosition: Float64Array;
  loss: number;
}

/** The MLP head from the post-trunk-normalised z [B·K, D] to its final LayerNorm. */
function mlpHeadForwardReference(
  c: AimConfig,
  params: ParamValues,
  inputs: ModelInputs,
  z: Float64Array,
): MlpHeadForward {
  const { batch } = inputs;
  const K = numPatches(c);
  const R = batch * K;
  const W = c.head.width;
  const hidden = c.mlpRatio * W;
  const g = gridSize(c);
  const projected = linearReference(
    z,
    R,
    param(params, 'head.proj_in.weight'),
    W,
    c.width,
    param(params, 'head.proj_in.bias'),
  );
  const headTable = sinCosPositionalEmbedding(g, g, W);
  const input = addPositionalEmbeddingReference(projected, headTable, batch, K, W, inputs.order);
  const blocks: HeadBlockCache[] = [];
  let h = input;
  const eps = c.headNormEps;
  for (let j = 0; j < c.head.depth; j++) {
    const key = (s: string) => param(params, `head.blocks.${j}.${s}`);
    let extra: LayerNormForwardReference | undefined;
    let residual = h;
    if (c.head.extraNormTerm) {
      extra = layerNormReference(h, key('norm_extra.weight'), key('norm_extra.bias'), R, W, eps);
      residual = addInto(Float64Array.from(h), extra.y);
    }
    const ln = layerNormReference(residual, key('norm.weight'), key('norm.bias'), R, W, eps);
    const pre = linearReference(ln.y, R, key('mlp.fc1.weight'), hidden, W);
    const act = pre.map(gelu);
    const output = addInto(linearReference(act, R, key('mlp.fc2.weight'), W, hidden), residual);
    blocks.push({ input: h, extra, residual, ln, pre, act, output });
    h = output;
  }
  const norm = layerNormReference(
    h,
    param(params, 'head.norm.weight'),
    param(params, 'head.norm.bias'),
    R,
    W,
    eps,
  );
  return { input, blocks, norm };
}

/** The whole pre-training forward, loss included, keeping what the backward needs. */
export function modelForwardReference(
  c: AimConfig,
  params: ParamValues,
  inputs: ModelInputs,
): ModelForward {
  const { batch } = inputs;
  const K = numPatches(c);
  const D = c.width;
  const R = batch * K;
  const P = patchValues(c);
  const trunk = trunkForwardReference(c, params, inputs);
  const last = trunk.blocks.length ? trunk.blocks[trunk.blocks.length - 1].output : trunk.tokens;
  const postNorm = layerNormReference(
    last,
    param(params, 'trunk.post_trunk_norm.weight'),
    param(params, 'trunk.post_trunk_norm.bias'),
    R,
    D,
    c.trunkNormEps,
  );
  const mlpHead =
    headKindOf(c) === 'mlp' ? mlpHeadForwardReference(c, params, inputs, postNorm.y) : undefined;
  const pred = linearReference(
    mlpHead ? mlpHead.norm.y : postNorm.y,
    R,
    param(params, 'head.proj_out.weight'),
    P,
    mlpHead ? c.head.width : D,
    param(params, 'head.proj_out.bias'),
  );
  const imageShape = { batch, channels: c.channels, height: c.imageSize, width: c.imageSize };
  const targets = patchifyReference(inputs.images, imageShape, c.patchSize, 'target', inputs.order);
  const { perPosition, loss } = patchMseLossReference(
    pred,
    targets,
    inputs.prefixLengths,
    { batch, positions: K, patchValues: P },
    pixelTargetsOf(c),
  );
  return { trunk, postNorm, mlpHead, pred, targets, perPosition, loss };
}

/** Prefix lengths that make every sample fully bidirectional (ml-aim's downstream mode). */
export function bidirectionalPrefix(c: AimConfig, batch: number): Uint32Array {
  return new Uint32Array(batch).fill(numPatches(c));
}
