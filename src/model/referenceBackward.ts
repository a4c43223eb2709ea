/**
 * Float64 backward of the AIM v1 pre-training model (src/model/reference.ts): the gradient
 * of the loss with respect to every parameter, by the chain rule through the per-kernel
 * reference backwards (attention, LayerNorm, GELU, the loss) — the same decomposition the
 * WGSL backward records, so a mismatch points at one step.
 */
import { headDim, numPatches, patchValues, pixelTargetsOf, type AimConfig } from './config';
import {
  addInto,
  modelForwardReference,
  param,
  type MlpHeadForward,
  type ModelForward,
  type ModelInputs,
  type ParamValues,
} from './reference';
import { attentionBackwardReference } from '../reference/attention';
import { geluGrad } from '../reference/gelu';
import { layerNormBackwardReference } from '../reference/layernorm';
import { matmulReference } from '../reference/matmul';
import { patchMseLossBackwardReference } from '../reference/patchMseLoss';

/** For y = x·Wᵀ with x [rows, in], W [out, in]: dx = dy·W and dW = dyᵀ·x. */
export function linearBackwardReference(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rows: number,
  out: number,
  inDim: number,
): { dx: Float64Array; dw: Float64Array } {
  const dx = matmulReference(dy, w, {
    batch: 1,
    m: rows,
    n: inDim,
    k: out,
    transA: false,
    transB: false,
    broadcastB: true,
  });
  const dw = matmulReference(dy, x, {
    batch: 1,
    m: out,
    n: inDim,
    k: rows,
    transA: true,
    transB: false,
    broadcastB: true,
  });
  return { dx, dw };
}

/** Σ over rows of [rows, n]: a bias's gradient. */
export function columnSumReference(x: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < x.length; i++) out[i % n] += x[i];
  return out;
}

export interface ModelGradients {
  loss: number;
  forward: ModelForward;
  /** d loss / d parameter, by state-dict key. */
  grads: Map<string, Float64Array>;
}

/**
 * The MLP half of a pre-norm block, y = r + fc2(gelu(fc1(LN(r)))), backwards: given dy,
 * records the fc1/fc2/LN parameter gradients under `prefix` and returns dr.
 */
function mlpBlockBackward(
  grads: Map<string, Float64Array>,
  params: ParamValues,
  names: { norm: string; fc1: string; fc2: string },
  dy: Float64Array,
  residual: Float64Array,
  normOut: Float64Array,
  pre: Float64Array,
  act: Float64Array,
  rows: number,
  width: number,
  hidden: number,
  eps: number,
): Float64Array {
  const fc2 = linearBackwardReference(dy, act, param(params, names.fc2), rows, width, hidden);
  grads.set(names.fc2, fc2.dw);
  const dpre = fc2.dx.map((v, i) => v * geluGrad(pre[i]));
  const fc1 = linearBackwardReference(dpre, normOut, param(params, names.fc1), rows, hidden, width);
  grads.set(names.fc1, fc1.dw);
  const ln = layerNormBackwardReference(
    fc1.dx,
    residual,
    param(params, `${names.norm}.weight`),
    rows,
    width,
    eps,
  );
  grads.set(`${names.norm}.weight`, ln.dweight);
  grads.set(`${names.norm}.bias`, ln.dbias);
  return addInto(ln.dx, dy);
}

/**
 * The MLP head backwards: from d(its final LayerNorm's output) to d z, recording every head
 * parameter's gradient but proj_out's.
 */
function mlpHeadBackward(
  c: AimConfig,
  params: ParamValues,
  head: MlpHeadForward,
  z: Float64Array,
  dnorm: Float64Array,
  R: number,
  grads: Map<string, Float64Array>,
): Float64Array {
  const W = c.head.width;
  const headOut = head.blocks.length ? head.blocks[head.blocks.length - 1].output : head.input;
  const headNorm = layerNormBackwardReference(
    dnorm,
    headOut,
    param(params, 'head.norm.weight'),
    R,
    W,
    c.headNormEps,
  );
  grads.set('head.norm.weight', headNorm.dweight);
  grads.set('head.norm.bias', headNorm.dbias);
  let g = headNorm.dx;
  for (let j = c.head.depth - 1; j >= 0; j--) {
    const b = head.blocks[j];
    const prefix = `head.blocks.${j}`;
    g = mlpBlockBackward(
      grads,
      params,
      { norm: `${prefix}.norm`, fc1: `${prefix}.mlp.fc1.weight`, fc2: `${prefix}.mlp.fc2.weight` },
      g,
      b.residual,
      b.ln.y,
      b.pre,
      b.act,
      R,
      W,
      c.mlpRatio * W,
      c.headNormEps,
    );
    if (c.head.extraNormTerm) {
      // r = h + LN_extra(h): dh = dr + LN_extraᵀ·dr.
      const extra = layerNormBackwardReference(
        g,
        b.input,
        param(params, `${prefix}.norm_extra.weight`),
        R,
        W,
        c.headNormEps,
      );
      grads.set(`${prefix}.norm_extra.weight`, extra.dweight);
      grads.set(`${prefix}.norm_extra.bias`, extra.dbias);
      g = addInto(extra.dx, g);
    }
  }
  // h₀ = z·W_inᵀ + b_in + positions.
  const projIn = linearBackwardReference(g, z, param(params, 'head.proj_in.weight'), R, W, c.width);
  grads.set('head.proj_in.weight', projIn.dw);
  grads.set('head.proj_in.bias', columnSumReference(g, W));
  return projIn.dx;
}

/** Loss and every parameter's gradient, in float64. */
export function modelBackwardReference(
  c: AimConfig,
  params: ParamValues,
  inputs: ModelInputs,
  forward: ModelForward = modelForwardReference(c, params, inputs),
): ModelGradients {
  const { batch } = inputs;
  const K = numPatches(c);
  const D = c.width;
  const R = batch * K;
  const P = patchValues(c);
  const grads = new Map<string, Float64Array>();
  const f = forward;

  // Loss → prediction → head.
  const dpred = patchMseLossBackwardReference(
    f.pred,
    f.targets,
    inputs.prefixLengths,
    { batch, positions: K, patchValues: P },
    pixelTargetsOf(c),
  );
  const projOut = linearBackwardReference(
    dpred,
    f.mlpHead ? f.mlpHead.norm.y : f.postNorm.y,
    param(params, 'head.proj_out.weight'),
    R,
    P,
    f.mlpHead ? c.head.width : D,
  );
  grads.set('head.proj_out.weight', projOut.dw);
  grads.set('head.proj_out.bias', columnSumReference(dpred, P));
  // d z: straight from proj_out without a head, else back through the MLP head.
  const dz = f.mlpHead
    ? mlpHeadBackward(c, params, f.mlpHead, f.postNorm.y, projOut.dx, R, grads)
    : projOut.dx;

  // Post-trunk norm → trunk blocks.
  const blocks = f.trunk.blocks;
  const trunkOut = blocks.length ? blocks[blocks.length - 1].output : f.trunk.tokens;
  const postNorm = layerNormBackwardReference(
    dz,
    trunkOut,
    param(params, 'trunk.post_trunk_norm.weight'),
    R,
    D,
    c.trunkNormEps,
  );
  grads.set('trunk.post_trunk_norm.weight', postNorm.dweight);
  grads.set('trunk.post_trunk_norm.bias', postNorm.dbias);
  let g = postNorm.dx;
  const shape = { batch, seqLen: K, heads: c.heads, headDim: headDim(c) };
  for (let l = c.depth - 1; l >= 0; l--) {
    const b = blocks[l];
    const prefix = `trunk.blocks.${l}`;
    const dmid = mlpBlockBackward(
      grads,
      params,
      {
        norm: `${prefix}.norm_2`,
        fc1: `${prefix}.mlp.fc1.weight`,
        fc2: `${prefix}.mlp.fc2.weight`,
      },
      g,
      b.mid,
      b.ln2.y,
      b.pre,
      b.act,
      R,
      D,
      c.mlpRatio * D,
      c.trunkNormEps,
    );
    const proj = linearBackwardReference(
      dmid,
      b.attn,
      param(params, `${prefix}.attn.proj.weight`),
      R,
      D,
      D,
    );
    grads.set(`${prefix}.attn.proj.weight`, proj.dw);
    const dqkv = attentionBackwardReference(b.qkv, proj.dx, inputs.prefixLengths, shape);
    const qkv = linearBackwardReference(
      dqkv,
      b.ln1.y,
      param(params, `${prefix}.attn.qkv.weight`),
      R,
      3 * D,
      D,
    );
    grads.set(`${prefix}.attn.qkv.weight`, qkv.dw);
    const ln1 = layerNormBackwardReference(
      qkv.dx,
      b.input,
      param(params, `${prefix}.norm_1.weight`),
      R,
      D,
      c.trunkNormEps,
    );
    grads.set(`${prefix}.norm_1.weight`, ln1.dweight);
    grads.set(`${prefix}.norm_1.bias`, ln1.dbias);
    g = addInto(ln1.dx, dmid);
  }

  // Preprocessor: tokens = LN(patches·Wpᵀ + bp) + positions.
  const patchNorm = layerNormBackwardReference(
    g,
    f.trunk.embedded,
    param(params, 'preprocessor.patchifier.norm.weight'),
    R,
    D,
    c.trunkNormEps,
  );
  grads.set('preprocessor.patchifier.norm.weight', patchNorm.dweight);
  grads.set('preprocessor.patchifier.norm.bias', patchNorm.dbias);
  const embed = linearBackwardReference(
    patchNorm.dx,
    f.trunk.patches,
    param(params, 'preprocessor.patchifier.proj.weight'),
    R,
    D,
    P,
  );
  grads.set('preprocessor.patchifier.proj.weight', embed.dw);
  grads.set('preprocessor.patchifier.proj.bias', columnSumReference(patchNorm.dx, D));
  return { loss: f.loss, forward: f, grads };
}
