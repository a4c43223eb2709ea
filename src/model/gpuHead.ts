/**
 * The pre-training half of AIM v1 on the GPU: post_trunk_norm → ml-l3m's prediction head
 * (proj_in with bias + its own sin-cos positions, residual MLP blocks, LayerNorm, proj_out
 * with bias to p·p·3 pixels) → the normalised-pixel MSE loss, whose kernel also writes
 * d loss / d pred in the same pass. Then the backward down to d(trunk output).
 *
 * Saved for the backward: the post-norm output z and statistics, every head block's input
 * (h₀ = proj_in(z) + positions, then each block's output), with extraNormTerm the
 * LN_extra statistics and r = h + LN_extra(h), each block's LN output and statistics,
 * fc1's pre-activation and GELU output [B·K, 4W], the final LN's output and statistics,
 * and the prediction's gradient. Scratch: dpre [B·K, 4W], dn [B·K, W], and (extraNormTerm)
 * one [B·K, W] for LN_extra's dx, which cannot be accumulated in place because its dy is
 * the stream itself.
 */
import type { GpuContext } from '../gpu/context';
import type { PreparedDispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { prepareColumnSum } from '../kernels/columnSum';
import { prepareAccumulate, prepareAdd } from '../kernels/elementwise';
import { prepareLayerNormBackward, prepareLayerNormForward } from '../kernels/layernorm';
import { prepareMatmul } from '../kernels/matmul';
import { preparePatchMseLoss } from '../kernels/patchMseLoss';
import { preparePatchify } from '../kernels/patchify';
import { preparePositionalEmbeddingAdd } from '../kernels/posembed';
import type { HeadBuffers, ModelInputTensors, NormBuffers, TrunkGradBuffers } from './allocation';
import type { AimConfig } from './config';
import { gather, type ParameterStore, type PendingDispatches } from './gpuBuffers';
import { prepareMlpHalfBackward, type BackwardOptions } from './gpuTrunk';

function view3(t: Tensor<'f32'>, batch: number): Tensor<'f32'> {
  return t.view([batch, t.shape[0] / batch, t.shape[1]]);
}

function blockInput(h: HeadBuffers, j: number): Tensor<'f32'> {
  return j > 0 ? h.blocks[j - 1].out : h.input;
}

function headOutput(h: HeadBuffers): Tensor<'f32'> {
  return h.blocks.length ? h.blocks[h.blocks.length - 1].out : h.input;
}

function layerNorm(
  ctx: GpuContext,
  x: Tensor<'f32'>,
  store: ParameterStore,
  name: string,
  n: NormBuffers,
  eps: number,
): Promise<PreparedDispatch[]> {
  const weight = store.param(`${name}.weight`);
  const bias = store.param(`${name}.bias`);
  return prepareLayerNormForward(ctx, { x, weight, bias, ...n }, { eps });
}

/** Trunk output → prediction → per-position losses, loss, and d loss / d pred. */
export async function prepareHeadForward(
  ctx: GpuContext,
  c: AimConfig,
  batch: number,
  store: ParameterStore,
  h: HeadBuffers,
  trunkOut: Tensor<'f32'>,
  inputs: ModelInputTensors,
): Promise<PreparedDispatch[]> {
  const eps = c.headNormEps;
  const out: PendingDispatches[] = [
    preparePatchify(
      ctx,
      { images: inputs.images, order: inputs.order, out: h.targets },
      { patch: c.patchSize, layout: 'target' },
    ),
    layerNorm(ctx, trunkOut, store, 'trunk.post_trunk_norm', h.postNorm, c.trunkNormEps),
    prepareMatmul(
      ctx,
      {
        a: h.postNorm.y,
        b: store.param('head.proj_in.weight'),
        c: h.input,
        bias: store.param('head.proj_in.bias'),
      },
      { transB: true },
    ),
    preparePositionalEmbeddingAdd(ctx, {
      tokens: view3(h.input, batch),
      table: h.table,
      order: inputs.order,
    }),
  ];
  for (let j = 0; j < c.head.depth; j++) {
    const b = h.blocks[j];
    const key = (s: string) => `head.blocks.${j}.${s}`;
    const x = blockInput(h, j);
    if (b.extra) {
      out.push(
        layerNorm(ctx, x, store, key('norm_extra'), b.extra, eps),
        prepareAdd(ctx, { a: x, b: b.extra.y, out: b.residual }),
      );
    }
    out.push(
      layerNorm(ctx, b.residual, store, key('norm'), b.norm, eps),
      prepareMatmul(
        ctx,
        { a: b.norm.y, b: store.param(key('mlp.fc1.weight')), c: b.act, aux: b.pre },
        { transB: true, activation: 'gelu' },
      ),
      prepareMatmul(
        ctx,
        { a: b.act, b: store.param(key('mlp.fc2.weight')), c: b.out, residual: b.residual },
        { transB: true },
      ),
    );
  }
  out.push(
    layerNorm(ctx, headOutput(h), store, 'head.norm', h.headNorm, eps),
    prepareMatmul(
      ctx,
      {
        a: h.headNorm.y,
        b: store.param('head.proj_out.weight'),
        c: h.pred,
        bias: store.param('head.proj_out.bias'),
      },
      { transB: true },
    ),
    preparePatchMseLoss(ctx, {
      pred: view3(h.pred, batch),
      targets: view3(h.targets, batch),
      prefixLengths: inputs.prefixLengths,
      perPosition: h.perPosition,
      loss: h.loss,
      gradPred: view3(h.dpred, batch),
    }),
  );
  return gather(out);
}

/**
 * d pred (from the forward's loss kernel) → every head and post-trunk-norm gradient; leaves
 * d(trunk output) in `trunkGrads.stream` (written, not added).
 */
export async function prepareHeadBackward(
  ctx: GpuContext,
  c: AimConfig,
  store: ParameterStore,
  h: HeadBuffers,
  trunkOut: Tensor<'f32'>,
  trunkGrads: TrunkGradBuffers,
  opts: BackwardOptions,
): Promise<PreparedDispatch[]> {
  const { accumulate } = opts;
  const normBackward = (
    name: string,
    dy: Tensor<'f32'>,
    x: Tensor<'f32'>,
    n: NormBuffers,
    dx: Tensor<'f32'>,
  ) =>
    prepareLayerNormBackward(
      ctx,
      {
        dy,
        x,
        weight: store.param(`${name}.weight`),
        mean: n.mean,
        rstd: n.rstd,
        dx,
        dweight: store.grad(`${name}.weight`),
        dbias: store.grad(`${name}.bias`),
      },
      { accumulateParams: accumulate },
    );
  const out: PendingDispatches[] = [
    prepareMatmul(
      ctx,
      {
        a: h.dpred,
        b: h.headNorm.y,
        c: store.grad('head.proj_out.weight'),
        partials: trunkGrads.splitKPartials,
      },
      { transA: true, accumulate, splitK: true },
    ),
    prepareColumnSum(ctx, { x: h.dpred, out: store.grad('head.proj_out.bias') }, { accumulate }),
    prepareMatmul(ctx, { a: h.dpred, b: store.param('head.proj_out.weight'), c: h.dn }),
    normBackward('head.norm', h.dn, headOutput(h), h.headNorm, h.stream),
  ];
  for (let j = c.head.depth - 1; j >= 0; j--) {
    const b = h.blocks[j];
    const key = (s: string) => `head.blocks.${j}.${s}`;
    out.push(
      prepareMlpHalfBackward(
        ctx,
        store,
        { norm: key('norm'), fc1: key('mlp.fc1.weight'), fc2: key('mlp.fc2.weight') },
        { residual: b.residual, norm: b.norm, pre: b.pre, act: b.act },
        { stream: h.stream, dpre: h.dpre, dh: h.dn, splitKPartials: trunkGrads.splitKPartials },
        opts,
      ),
    );
    if (b.extra) {
      // r = x + LN_extra(x): dx = dr + LN_extraᵀ·dr (dr is the stream, so dx goes to scratch).
      out.push(
        normBackward(key('norm_extra'), h.stream, blockInput(h, j), b.extra, h.extraDx!),
        prepareAccumulate(ctx, { target: h.stream, x: h.extraDx! }),
      );
    }
  }
  // h₀ = z·W_inᵀ + b_in + positions; then z = post_trunk_norm(trunk output).
  const dz = trunkGrads.dh;
  out.push(
    prepareMatmul(
      ctx,
      {
        a: h.stream,
        b: h.postNorm.y,
        c: store.grad('head.proj_in.weight'),
        partials: trunkGrads.splitKPartials,
      },
      { transA: true, accumulate, splitK: true },
    ),
    prepareColumnSum(ctx, { x: h.stream, out: store.grad('head.proj_in.bias') }, { accumulate }),
    prepareMatmul(ctx, { a: h.stream, b: store.param('head.proj_in.weight'), c: dz }),
    normBackward('trunk.post_trunk_norm', dz, trunkOut, h.postNorm, trunkGrads.stream),
  );
  return gather(out);
}
