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
import { positionalEmbeddingTable, preparePositionalEmbeddingAdd } from '../kernels/posembed';
import { gridSize, numPatches, patchValues, type AimConfig } from './config';
import { gather, type ParameterStore, type PendingDispatches, type TensorPool } from './gpuBuffers';
import {
  allocateNorm,
  prepareMlpHalfBackward,
  type BackwardOptions,
  type ModelInputTensors,
  type NormBuffers,
  type TrunkGradBuffers,
} from './gpuTrunk';

export interface HeadBlockBuffers {
  /** LN_extra(input) (extraNormTerm only). */
  extra?: NormBuffers;
  /** The MLP's residual input: the block input, or input + LN_extra(input). */
  residual: Tensor<'f32'>;
  norm: NormBuffers;
  pre: Tensor<'f32'>;
  act: Tensor<'f32'>;
  out: Tensor<'f32'>;
}

export interface HeadBuffers {
  postNorm: NormBuffers;
  /** h₀ = proj_in(z) + positions. */
  input: Tensor<'f32'>;
  table: Tensor<'f32'>;
  blocks: HeadBlockBuffers[];
  headNorm: NormBuffers;
  /** [B·K, p·p·3]. */
  pred: Tensor<'f32'>;
  /** [B·K, p·p·3]: the images patchified in (row, col, channel) order, same order. */
  targets: Tensor<'f32'>;
  perPosition: Tensor<'f32'>;
  loss: Tensor<'f32'>;
  /** d loss / d pred, written by the loss kernel during the forward. */
  dpred: Tensor<'f32'>;
  /** Head-side gradient buffers. */
  stream: Tensor<'f32'>;
  dpre: Tensor<'f32'>;
  dn: Tensor<'f32'>;
  extraDx?: Tensor<'f32'>;
}

export function allocateHead(pool: TensorPool, c: AimConfig, batch: number): HeadBuffers {
  const K = numPatches(c);
  const R = batch * K;
  const W = c.head.width;
  const hidden = c.mlpRatio * W;
  const P = patchValues(c);
  const g = gridSize(c);
  const extra = c.head.extraNormTerm;
  const input = pool.f32([R, W], 'head input');
  const blocks: HeadBlockBuffers[] = [];
  let x = input;
  for (let j = 0; j < c.head.depth; j++) {
    const block: HeadBlockBuffers = {
      extra: extra ? allocateNorm(pool, R, W, `head block ${j} norm_extra`) : undefined,
      // Without the extra term the MLP's residual input is the block input itself.
      residual: extra ? pool.f32([R, W], `head block ${j} x + norm_extra(x)`) : x,
      norm: allocateNorm(pool, R, W, `head block ${j} norm`),
      pre: pool.f32([R, hidden], `head block ${j} fc1 pre-activation`),
      act: pool.f32([R, hidden], `head block ${j} gelu`),
      out: pool.f32([R, W], `head block ${j} output`),
    };
    blocks.push(block);
    x = block.out;
  }
  return {
    postNorm: allocateNorm(pool, R, c.width, 'post_trunk_norm'),
    input,
    table: pool.adopt(positionalEmbeddingTable(pool.ctx, g, g, W)),
    blocks,
    headNorm: allocateNorm(pool, R, W, 'head norm'),
    pred: pool.f32([R, P], 'prediction'),
    targets: pool.f32([R, P], 'targets'),
    perPosition: pool.f32([batch, K], 'per-position loss'),
    loss: pool.f32([1], 'loss'),
    dpred: pool.f32([R, P], 'd prediction'),
    stream: pool.f32([R, W], 'head residual gradient'),
    dpre: pool.f32([R, hidden], 'head d pre-activation'),
    dn: pool.f32([R, W], 'head dn'),
    extraDx: extra ? pool.f32([R, W], 'head d norm_extra input') : undefined,
  };
}

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
): Promise<PreparedDispatch> {
  const w = store.param(`${name}.weight`);
  const b = store.param(`${name}.bias`);
  return prepareLayerNormForward(ctx, x, w, b, n.y, n.mean, n.rstd, { eps });
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
    preparePatchify(ctx, inputs.images, h.targets, {
      patch: c.patchSize,
      layout: 'target',
      order: inputs.order,
    }),
    layerNorm(ctx, trunkOut, store, 'trunk.post_trunk_norm', h.postNorm, c.trunkNormEps),
    prepareMatmul(ctx, h.postNorm.y, store.param('head.proj_in.weight'), h.input, {
      transB: true,
      bias: store.param('head.proj_in.bias'),
    }),
    preparePositionalEmbeddingAdd(ctx, view3(h.input, batch), h.table, {
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
        prepareAdd(ctx, x, b.extra.y, b.residual),
      );
    }
    out.push(
      layerNorm(ctx, b.residual, store, key('norm'), b.norm, eps),
      prepareMatmul(ctx, b.norm.y, store.param(key('mlp.fc1.weight')), b.act, {
        transB: true,
        activation: 'gelu',
        aux: b.pre,
      }),
      prepareMatmul(ctx, b.act, store.param(key('mlp.fc2.weight')), b.out, {
        transB: true,
        residual: b.residual,
      }),
    );
  }
  out.push(
    layerNorm(ctx, headOutput(h), store, 'head.norm', h.headNorm, eps),
    prepareMatmul(ctx, h.headNorm.y, store.param('head.proj_out.weight'), h.pred, {
      transB: true,
      bias: store.param('head.proj_out.bias'),
    }),
    preparePatchMseLoss(ctx, view3(h.pred, batch), view3(h.targets, batch), inputs.prefixLengths, {
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
    prepareMatmul(ctx, h.dpred, h.headNorm.y, store.grad('head.proj_out.weight'), {
      transA: true,
      accumulate,
    }),
    prepareColumnSum(ctx, h.dpred, store.grad('head.proj_out.bias'), { accumulate }),
    prepareMatmul(ctx, h.dpred, store.param('head.proj_out.weight'), h.dn),
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
        { stream: h.stream, dpre: h.dpre, dh: h.dn },
        opts,
      ),
    );
    if (b.extra) {
      // r = x + LN_extra(x): dx = dr + LN_extraᵀ·dr (dr is the stream, so dx goes to scratch).
      out.push(
        normBackward(key('norm_extra'), h.stream, blockInput(h, j), b.extra, h.extraDx!),
        prepareAccumulate(ctx, h.stream, h.extraDx!),
      );
    }
  }
  // h₀ = z·W_inᵀ + b_in + positions; then z = post_trunk_norm(trunk output).
  const dz = trunkGrads.dh;
  out.push(
    prepareMatmul(ctx, h.stream, h.postNorm.y, store.grad('head.proj_in.weight'), {
      transA: true,
      accumulate,
    }),
    prepareColumnSum(ctx, h.stream, store.grad('head.proj_in.bias'), { accumulate }),
    prepareMatmul(ctx, h.stream, store.param('head.proj_in.weight'), dz),
    normBackward('trunk.post_trunk_norm', dz, trunkOut, h.postNorm, trunkGrads.stream),
  );
  return gather(out);
}
