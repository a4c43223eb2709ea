/**
 * ml-aim's trunk on the GPU — preprocessor (patchify → patch-embedding matmul with bias →
 * patch LayerNorm → sin-cos positions) and pre-norm prefix-causal blocks — as prepared
 * dispatches for the forward and the backward (src/model/reference.ts has the math).
 *
 * Saved for the backward, per block l (rows = B·K): LN₁'s output and row statistics, qkv
 * [B·K, 3D], the attention output and its log-sum-exp [B, H, K], m = x + proj(attn), LN₂'s
 * output and statistics, fc1's pre-activation and GELU output [B·K, 4D], and the block's
 * output (the next block's input). Also the patches, the embedding before its LayerNorm
 * and that LayerNorm's statistics. Nothing is recomputed in the backward.
 *
 * The backward walks a single residual-gradient buffer `stream` [B·K, D] down the blocks:
 * each LayerNorm backward adds its dx into it in place (ACCUMULATE), so the residual adds
 * cost no extra pass. Scratch (dpre [B·K, 4D], dh, dattn [B·K, D], dqkv [B·K, 3D]) is shared
 * by all blocks, since the dispatches of one pass run in order. Each Linear layer's input and
 * weight gradients, which both read only dY, run as one grouped dispatch
 * (prepareLinearBackward), bit for bit as the two separate ones would.
 */
import type { GpuContext } from '../gpu/context';
import type { PreparedDispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { prepareAttentionBackward, prepareAttentionForward } from '../kernels/attention';
import { prepareColumnSum } from '../kernels/columnSum';
import { prepareLayerNormBackward, prepareLayerNormForward } from '../kernels/layernorm';
import { prepareMatmul } from '../kernels/matmul';
import { prepareGroupedMatmul } from '../kernels/matmulGrouped';
import { preparePatchify } from '../kernels/patchify';
import { preparePositionalEmbeddingAdd } from '../kernels/posembed';
import type { ModelInputTensors, NormBuffers, TrunkBuffers, TrunkGradBuffers } from './allocation';
import type { AimConfig } from './config';
import { gather, type ParameterStore, type PendingDispatches } from './gpuBuffers';

/** The output of the last block (or the tokens for a trunk of no blocks). */
export function trunkOutput(t: TrunkBuffers): Tensor<'f32'> {
  return t.blocks.length ? t.blocks[t.blocks.length - 1].out : t.tokens;
}

function view3(t: Tensor<'f32'>, batch: number): Tensor<'f32'> {
  return t.view([batch, t.shape[0] / batch, t.shape[1]]);
}

/** patches → tokens → every block's output. */
export async function prepareTrunkForward(
  ctx: GpuContext,
  c: AimConfig,
  batch: number,
  store: ParameterStore,
  t: TrunkBuffers,
  inputs: ModelInputTensors,
): Promise<PreparedDispatch[]> {
  const eps = c.trunkNormEps;
  const pre = 'preprocessor.patchifier';
  const out: PendingDispatches[] = [
    preparePatchify(
      ctx,
      { images: inputs.images, order: inputs.order, out: t.patches },
      { patch: c.patchSize, layout: 'embedding' },
    ),
    prepareMatmul(
      ctx,
      {
        a: t.patches,
        b: store.matrix(`${pre}.proj.weight`),
        c: t.embedded,
        bias: store.param(`${pre}.proj.bias`),
      },
      { transB: true },
    ),
    prepareLayerNormForward(
      ctx,
      {
        x: t.embedded,
        weight: store.param(`${pre}.norm.weight`),
        bias: store.param(`${pre}.norm.bias`),
        ...t.patchNorm,
      },
      { eps },
    ),
    preparePositionalEmbeddingAdd(ctx, {
      tokens: view3(t.tokens, batch),
      table: t.table,
      order: inputs.order,
    }),
  ];
  let x = t.tokens;
  for (let l = 0; l < c.depth; l++) {
    const b = t.blocks[l];
    const key = (s: string) => `trunk.blocks.${l}.${s}`;
    const p = (s: string) => store.param(key(s));
    out.push(
      prepareLayerNormForward(
        ctx,
        { x, weight: p('norm_1.weight'), bias: p('norm_1.bias'), ...b.ln1 },
        { eps },
      ),
      prepareMatmul(ctx, { a: b.ln1.y, b: p('attn.qkv.weight'), c: b.qkv }, { transB: true }),
      prepareAttentionForward(
        ctx,
        {
          qkv: view3(b.qkv, batch),
          prefixLengths: inputs.prefixLengths,
          out: view3(b.attn, batch),
          lse: b.lse,
        },
        { heads: c.heads },
      ),
      prepareMatmul(
        ctx,
        { a: b.attn, b: p('attn.proj.weight'), c: b.mid, residual: x },
        { transB: true },
      ),
      prepareLayerNormForward(
        ctx,
        { x: b.mid, weight: p('norm_2.weight'), bias: p('norm_2.bias'), ...b.ln2 },
        { eps },
      ),
      prepareMatmul(
        ctx,
        { a: b.ln2.y, b: p('mlp.fc1.weight'), c: b.act, aux: b.pre },
        { transB: true, activation: 'gelu' },
      ),
      prepareMatmul(
        ctx,
        { a: b.act, b: p('mlp.fc2.weight'), c: b.out, residual: b.mid },
        { transB: true },
      ),
    );
    x = b.out;
  }
  return gather(out);
}

/**
 * dW = dYᵀ·X into weight gradient `name` (c), split over K where the output tiles would not
 * fill the GPU: into the gradient's own partials when it has them (its reduce deferred to the
 * backward's one partials_reduce pass: partialsReduce.ts, gpuModel.ts), else into `shared`.
 */
export function prepareWeightGradient(
  ctx: GpuContext,
  store: ParameterStore,
  name: string,
  t: { a: Tensor<'f32'>; b: Tensor<'f32'>; c: Tensor<'f32'> },
  shared: Tensor<'f32'>,
  accumulate: boolean,
): Promise<PreparedDispatch[]> {
  const own = store.gradientPartials(name);
  return prepareMatmul(
    ctx,
    { ...t, partials: own ?? shared },
    { transA: true, accumulate, splitK: true, deferReduce: own !== undefined },
  );
}

/**
 * A Linear layer's two gradients from one dY in one grouped dispatch (matmulGrouped.ts):
 * dX = dY·W into `dx` — times gelu'(pre) when `pre` is given — and dW = dYᵀ·X into weight
 * gradient `name`, split and reduced as prepareWeightGradient does it; each gives the bits
 * of its own dispatch.
 */
export function prepareLinearBackward(
  ctx: GpuContext,
  store: ParameterStore,
  name: string,
  t: { dy: Tensor<'f32'>; x: Tensor<'f32'>; dx: Tensor<'f32'>; pre?: Tensor<'f32'> },
  shared: Tensor<'f32'>,
  accumulate: boolean,
): Promise<PreparedDispatch[]> {
  const own = store.gradientPartials(name);
  return prepareGroupedMatmul(ctx, t.dy, [
    {
      b: store.param(name),
      c: t.dx,
      aux: t.pre,
      opts: { activation: t.pre ? 'gelu-grad' : 'none' },
    },
    {
      b: t.x,
      c: store.grad(name),
      partials: own ?? shared,
      opts: { transA: true, accumulate, splitK: true, deferReduce: own !== undefined },
    },
  ]);
}

export interface BackwardOptions {
  /** Add into the gradient tensors instead of overwriting them (micro-batches). */
  accumulate: boolean;
}

/**
 * The gradient of a pre-norm MLP half y = r + fc2(gelu(fc1(LN(r)))): with `stream` = dy on
 * entry, writes the fc1/fc2/LN parameter gradients and leaves dr in `stream`.
 */
export async function prepareMlpHalfBackward(
  ctx: GpuContext,
  store: ParameterStore,
  names: { norm: string; fc1: string; fc2: string },
  saved: { residual: Tensor<'f32'>; norm: NormBuffers; pre: Tensor<'f32'>; act: Tensor<'f32'> },
  scratch: {
    stream: Tensor<'f32'>;
    dpre: Tensor<'f32'>;
    dh: Tensor<'f32'>;
    splitKPartials: Tensor<'f32'>;
  },
  { accumulate }: BackwardOptions,
): Promise<PreparedDispatch[]> {
  const { stream, dpre, dh, splitKPartials: shared } = scratch;
  return gather([
    // dpre = (dy·W_fc2) ⊙ gelu'(pre), fused in the epilogue; with fc2's weight gradient.
    prepareLinearBackward(
      ctx,
      store,
      names.fc2,
      { dy: stream, x: saved.act, dx: dpre, pre: saved.pre },
      shared,
      accumulate,
    ),
    prepareLinearBackward(
      ctx,
      store,
      names.fc1,
      { dy: dpre, x: saved.norm.y, dx: dh },
      shared,
      accumulate,
    ),
    prepareLayerNormBackward(
      ctx,
      {
        dy: dh,
        x: saved.residual,
        weight: store.param(`${names.norm}.weight`),
        mean: saved.norm.mean,
        rstd: saved.norm.rstd,
        dx: stream,
        dweight: store.grad(`${names.norm}.weight`),
        dbias: store.grad(`${names.norm}.bias`),
        partials: store.normPartials(names.norm),
      },
      { accumulateInput: true, accumulateParams: accumulate },
    ),
  ]);
}

/**
 * From d(trunk output) in `g.stream` down to every trunk parameter's gradient (the
 * post-trunk norm is the head's business: see gpuHead.ts).
 */
export async function prepareTrunkBackward(
  ctx: GpuContext,
  c: AimConfig,
  batch: number,
  store: ParameterStore,
  t: TrunkBuffers,
  g: TrunkGradBuffers,
  inputs: ModelInputTensors,
  opts: BackwardOptions,
): Promise<PreparedDispatch[]> {
  const { accumulate } = opts;
  const out: PendingDispatches[] = [];
  for (let l = c.depth - 1; l >= 0; l--) {
    const b = t.blocks[l];
    const input = l > 0 ? t.blocks[l - 1].out : t.tokens;
    const key = (s: string) => `trunk.blocks.${l}.${s}`;
    out.push(
      prepareMlpHalfBackward(
        ctx,
        store,
        { norm: key('norm_2'), fc1: key('mlp.fc1.weight'), fc2: key('mlp.fc2.weight') },
        { residual: b.mid, norm: b.ln2, pre: b.pre, act: b.act },
        g,
        opts,
      ),
      // stream = d m now; m = x + attn·W_projᵀ.
      prepareLinearBackward(
        ctx,
        store,
        key('attn.proj.weight'),
        { dy: g.stream, x: b.attn, dx: g.dattn },
        g.splitKPartials,
        accumulate,
      ),
      prepareAttentionBackward(
        ctx,
        {
          qkv: view3(b.qkv, batch),
          out: view3(b.attn, batch),
          lse: b.lse,
          dOut: view3(g.dattn, batch),
          prefixLengths: inputs.prefixLengths,
          dQkv: view3(g.dqkv, batch),
        },
        { heads: c.heads },
      ),
      prepareLinearBackward(
        ctx,
        store,
        key('attn.qkv.weight'),
        { dy: g.dqkv, x: b.ln1.y, dx: g.dh },
        g.splitKPartials,
        accumulate,
      ),
      prepareLayerNormBackward(
        ctx,
        {
          dy: g.dh,
          x: input,
          weight: store.param(key('norm_1.weight')),
          mean: b.ln1.mean,
          rstd: b.ln1.rstd,
          dx: g.stream,
          dweight: store.grad(key('norm_1.weight')),
          dbias: store.grad(key('norm_1.bias')),
          partials: store.normPartials(key('norm_1')),
        },
        { accumulateInput: true, accumulateParams: accumulate },
      ),
    );
  }
  // tokens = LN(patches·W_pᵀ + b_p) + positions: stream = d tokens; dh = d embedding.
  const pre = 'preprocessor.patchifier';
  out.push(
    prepareLayerNormBackward(
      ctx,
      {
        dy: g.stream,
        x: t.embedded,
        weight: store.param(`${pre}.norm.weight`),
        mean: t.patchNorm.mean,
        rstd: t.patchNorm.rstd,
        dx: g.dh,
        dweight: store.grad(`${pre}.norm.weight`),
        dbias: store.grad(`${pre}.norm.bias`),
        partials: store.normPartials(`${pre}.norm`),
      },
      { accumulateParams: accumulate },
    ),
    prepareWeightGradient(
      ctx,
      store,
      `${pre}.proj.weight`,
      { a: g.dh, b: t.patches, c: store.gradMatrix(`${pre}.proj.weight`) },
      g.splitKPartials,
      accumulate,
    ),
    prepareColumnSum(ctx, { x: g.dh, out: store.grad(`${pre}.proj.bias`) }, { accumulate }),
  );
  return gather(out);
}
