/**
 * The two heads an AIM export can end with: ml-aim's attentive probe (→ `logits`) and this
 * project's ml-l3m prediction head (→ `patch_predictions`), and the two small patterns the
 * trunk shares with them (exact GELU, a rank-0 index). See export.ts for the whole graph.
 */
import { sinCosPositionalEmbedding } from '../reference/posembed';
import type { AimOnnxConfig, WeightSource } from './checkpoint';
import type { PredictionHeadShape } from '../model/shape';
import type { GraphBuilder } from './graph';
import type { WeightEmitter } from './weightEmitter';

/** A rank-0 int64 index, so Gather drops the axis. */
export function scalarIndex(g: GraphBuilder, i: number): string {
  return g.int64(i, 'index');
}

/** Exact GELU, 0.5·x·(1 + erf(x/√2)) — the pattern onnxruntime fuses into its Gelu kernel. */
export function gelu(g: GraphBuilder, x: string): string {
  const erf = g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2, 'sqrt2')])]);
  return g.op(
    'Mul',
    [g.op('Mul', [x, g.op('Add', [erf, g.scalar(1, 'one')])]), g.scalar(0.5, 'half')],
    {},
    { hint: 'gelu' },
  );
}

/**
 * This project's (ml-l3m's) prediction head on the post-trunk-normed tokens: proj_in + 2-D
 * sin-cos positions of its width, residual MLP blocks (x + LN_extra(x) first when present),
 * LayerNorm, proj_out — the float64 reference is src/model/reference.ts.
 */
export async function predictionHead(
  g: GraphBuilder,
  W: WeightEmitter,
  c: AimOnnxConfig,
  head: PredictionHeadShape,
  z: string,
  grid: { h: number; w: number; tokens: number },
): Promise<void> {
  const eps = { float: c.headNormEps };
  const norm = async (x: string, prefix: string) =>
    g.op(
      'LayerNormalization',
      [
        x,
        await W.param(`${prefix}.weight`, [head.width]),
        await W.param(`${prefix}.bias`, [head.width]),
      ],
      { axis: -1, epsilon: eps },
      { hint: prefix },
    );
  const table = Float32Array.from(sinCosPositionalEmbedding(grid.h, grid.w, head.width));
  const pos = await W.derived('head_pos_embed', table, [1, grid.tokens, head.width]);
  let h = g.op('Add', [await W.linear(z, 'head.proj_in', head.width, c.embedDim), pos]);
  for (let j = 0; j < head.depth; j++) {
    const b = `head.blocks.${j}`;
    if (head.extraNorm) h = g.op('Add', [h, await norm(h, `${b}.norm_extra`)]);
    const pre = await W.linear(await norm(h, `${b}.norm`), `${b}.mlp.fc1`, head.hidden, head.width);
    h = g.op('Add', [h, await W.linear(gelu(g, pre), `${b}.mlp.fc2`, head.width, head.hidden)]);
  }
  const out = await W.linear(
    await norm(h, 'head.norm'),
    'head.proj_out',
    head.patchValues,
    head.width,
  );
  g.op('Identity', [out], {}, { output: 'patch_predictions' });
}

/** ml-aim's AttentionPoolingClassifier on `features` [N, K, D] → `logits`. */
export async function attentionProbe(
  g: GraphBuilder,
  W: WeightEmitter,
  weights: WeightSource,
  c: AimOnnxConfig,
  features: string,
): Promise<void> {
  const D = c.embedDim;
  const H = c.numHeads;
  const dh = D / H;
  let x = features;
  if (weights.has('head.bn.running_mean')) {
    // BatchNorm1d(affine=False, eps=1e-6) in eval mode, per channel: (x − mean) · (var + eps)^-½.
    const mean = await W.read('head.bn.running_mean');
    const variance = await W.read('head.bn.running_var');
    const invStd = Float32Array.from(variance, (v) => 1 / Math.sqrt(v + 1e-6));
    const m = await W.derived('head.bn.running_mean', mean, [D]);
    const s = await W.derived('head.bn.inv_std', invStd, [D]);
    x = g.op('Mul', [g.op('Sub', [x, m]), s], {}, { hint: 'probe_bn' });
  }
  const cls = await W.read('head.cls_token');
  const queries = cls.length / D;
  // The query needs no projection in ml-aim; scale it once here (float64, then f32).
  const qScaled = Float32Array.from(cls, (v) => v / Math.sqrt(dh));
  const qFlat = await W.derived('head.cls_token_scaled', qScaled, [1, queries, H, dh]);
  const q = g.op('Transpose', [qFlat], { perm: [0, 2, 1, 3] }); // [1, H, Q, dh]
  const heads = (t: string, perm: number[]) =>
    g.op('Transpose', [g.op('Reshape', [t, g.int64([0, 0, H, dh])])], { perm });
  const kT = heads(await W.linear(x, 'head.k', D, D), [0, 2, 3, 1]); // [N, H, dh, K]
  const v = heads(await W.linear(x, 'head.v', D, D), [0, 2, 1, 3]); // [N, H, K, dh]
  const probs = g.op('Softmax', [g.op('MatMul', [q, kT], {}, { hint: 'probe_scores' })], {
    axis: -1,
  });
  const pooled = g.op('MatMul', [probs, v]); // [N, H, Q, dh]
  const perQuery = g.op('Reshape', [
    g.op('Transpose', [pooled], { perm: [0, 2, 1, 3] }),
    g.int64([0, queries, D]),
  ]);
  const mean = g.op('ReduceMean', [perQuery], { axes: [1], keepdims: 0 }, { hint: 'probe_pooled' });
  const logits = await W.linear(mean, 'head.linear', c.numClasses, D);
  g.op('Identity', [logits], {}, { output: 'logits' });
}
