/**
 * The pre-training half of AIM v1 on the GPU: post_trunk_norm → ml-l3m's prediction head
 * (proj_in with bias + its own sin-cos positions, residual MLP blocks, LayerNorm, proj_out
 * with bias to p·p·3 pixels) → the pixel MSE loss (normalised or raw targets), whose kernel
 * also writes d loss / d pred in the same pass. Then the backward down to d(trunk output).
 * Without a head (config head 'none', the paper's Table 3e) proj_out reads the post-trunk
 * norm's output directly and nothing of the MLP head (its buffers, `mlp`) exists.
 *
 * Saved for the backward: the post-norm output z and statistics, every head block's input
 * (h₀ = proj_in(z) + positions, then each block's output), with extraNormTerm the
 * LN_extra statistics and r = h + LN_extra(h), each block's LN output and statistics,
 * fc1's pre-activation and GELU output [B·K, 4W], the final LN's output and statistics,
 * and the prediction's gradient. Scratch: dpre [B·K, 4W], dn [B·K, W], and (extraNormTerm)
 * one [B·K, W] for LN_extra's dx, which cannot be accumulated in place because its dy is
 * the stream itself.
 *
 * Rows: the post-trunk norm runs on every row (its output goes to a full-size scratch), and
 * everything after it only on the rows the step's prediction counts (headRows.ts): the
 * counted rows of z are gathered into the first M rows of `postNorm.y`, and every head
 * tensor above is used through its first M rows. The head's positional rows are added by
 * the same gather (table row order[i] for compact row m). The backward scatters the compact
 * d z back to every row (zeros where nothing counted) before the post-trunk norm's backward.
 * The row-dependent part is prepared once per row bucket (`prepareHeadRowsForward` /
 * `prepareHeadRowsBackward`); the rest once (`prepareHeadFixedForward` / `…Backward`).
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
import { prepareGatherRows } from '../kernels/gatherRows';
import type {
  HeadBuffers,
  HeadRowTensors,
  MlpHeadBuffers,
  ModelInputTensors,
  NormBuffers,
  TrunkGradBuffers,
} from './allocation';
import { pixelTargetsOf, type AimConfig } from './config';
import { gather, type ParameterStore, type PendingDispatches } from './gpuBuffers';
import { prepareLinearBackward, prepareMlpHalfBackward, type BackwardOptions } from './gpuTrunk';

function view3(t: Tensor<'f32'>, batch: number): Tensor<'f32'> {
  return t.view([batch, t.shape[0] / batch, t.shape[1]]);
}

/** The first `n` rows of a [rows, cols] (or [rows]) tensor: same buffer, offset 0. */
function leadingRows<D extends 'f32' | 'u32'>(t: Tensor<D>, n: number): Tensor<D> {
  return n === t.shape[0] ? t : t.slice(0, [n, ...t.shape.slice(1)]);
}

function normRows(n: NormBuffers, rows: number): NormBuffers {
  return {
    y: leadingRows(n.y, rows),
    mean: leadingRows(n.mean, rows),
    rstd: leadingRows(n.rstd, rows),
  };
}

/**
 * The head's tensors seen through their first `rows` rows — all but the targets, the losses,
 * the table and the post-trunk norm's statistics, which stay per full row.
 */
function headRowViews(h: HeadBuffers, rows: number): HeadBuffers {
  const r = (t: Tensor<'f32'>) => leadingRows(t, rows);
  const m = h.mlp;
  return {
    ...h,
    postNorm: { ...h.postNorm, y: r(h.postNorm.y) },
    mlp: m && {
      ...m,
      input: r(m.input),
      blocks: m.blocks.map((b) => ({
        extra: b.extra && normRows(b.extra, rows),
        residual: r(b.residual),
        norm: normRows(b.norm, rows),
        pre: r(b.pre),
        act: r(b.act),
        out: r(b.out),
      })),
      headNorm: normRows(m.headNorm, rows),
      stream: r(m.stream),
      dpre: r(m.dpre),
      dn: r(m.dn),
      extraDx: m.extraDx && r(m.extraDx),
    },
    pred: r(h.pred),
    dpred: r(h.dpred),
  };
}

/** The rows one preparation of the head computes (a bucket of headRows.ts). */
export interface HeadRows {
  /** M: rows computed (the lists' first M entries are read). */
  count: number;
  /** Written per step by the model's setInputs. */
  lists: HeadRowTensors;
}

function blockInput(h: MlpHeadBuffers, j: number): Tensor<'f32'> {
  return j > 0 ? h.blocks[j - 1].out : h.input;
}

/** What proj_out reads: the MLP head's final LayerNorm, or (no head) the post-trunk norm. */
function projOutInput(h: HeadBuffers): Tensor<'f32'> {
  return h.mlp ? h.mlp.headNorm.y : h.postNorm.y;
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

/**
 * The row-independent start of the head's forward: the targets, and the post-trunk norm of
 * every row into `normOut` [B·K, D] (a scratch the rows part gathers from; its statistics
 * stay in `h.postNorm` for the backward).
 */
export async function prepareHeadFixedForward(
  ctx: GpuContext,
  c: AimConfig,
  store: ParameterStore,
  h: HeadBuffers,
  trunkOut: Tensor<'f32'>,
  inputs: ModelInputTensors,
  normOut: Tensor<'f32'>,
): Promise<PreparedDispatch[]> {
  return gather([
    preparePatchify(
      ctx,
      { images: inputs.images, order: inputs.order, out: h.targets },
      { patch: c.patchSize, layout: 'target' },
    ),
    layerNorm(
      ctx,
      trunkOut,
      store,
      'trunk.post_trunk_norm',
      { ...h.postNorm, y: normOut },
      c.trunkNormEps,
    ),
  ]);
}

/** Post-trunk norm output (`normOut`) → the counted rows' predictions → losses and d pred. */
export async function prepareHeadRowsForward(
  ctx: GpuContext,
  c: AimConfig,
  batch: number,
  store: ParameterStore,
  full: HeadBuffers,
  rows: HeadRows,
  inputs: ModelInputTensors,
  normOut: Tensor<'f32'>,
): Promise<PreparedDispatch[]> {
  const h = headRowViews(full, rows.count);
  const out: PendingDispatches[] = [
    prepareGatherRows(ctx, {
      src: normOut,
      index: leadingRows(rows.lists.rows, rows.count),
      out: h.postNorm.y,
    }),
  ];
  if (h.mlp) out.push(...mlpHeadForward(ctx, c, store, h.postNorm.y, h.mlp, rows));
  out.push(
    prepareMatmul(
      ctx,
      {
        a: projOutInput(h),
        b: store.param('head.proj_out.weight'),
        c: h.pred,
        bias: store.param('head.proj_out.bias'),
      },
      { transB: true },
    ),
    preparePatchMseLoss(
      ctx,
      {
        pred: h.pred,
        targets: view3(h.targets, batch),
        prefixLengths: inputs.prefixLengths,
        rows: leadingRows(rows.lists.rows, rows.count),
        perPosition: h.perPosition,
        loss: h.loss,
        gradPred: h.dpred,
      },
      { targets: pixelTargetsOf(c) },
    ),
  );
  return gather(out);
}

/** The MLP head on the compact rows: z → proj_in + positions → blocks → its LayerNorm. */
function mlpHeadForward(
  ctx: GpuContext,
  c: AimConfig,
  store: ParameterStore,
  z: Tensor<'f32'>,
  h: MlpHeadBuffers,
  rows: HeadRows,
): PendingDispatches[] {
  const eps = c.headNormEps;
  const out: PendingDispatches[] = [
    prepareMatmul(
      ctx,
      {
        a: z,
        b: store.param('head.proj_in.weight'),
        c: h.input,
        bias: store.param('head.proj_in.bias'),
      },
      { transB: true },
    ),
    // + the head's sin-cos row of the token's patch (order[i] for compact row m).
    prepareGatherRows(
      ctx,
      { src: h.table, index: leadingRows(rows.lists.positions, rows.count), out: h.input },
      { accumulate: true },
    ),
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
  const last = h.blocks.length ? h.blocks[h.blocks.length - 1].out : h.input;
  out.push(layerNorm(ctx, last, store, 'head.norm', h.headNorm, eps));
  return out;
}

function normBackward(
  ctx: GpuContext,
  store: ParameterStore,
  name: string,
  t: { dy: Tensor<'f32'>; x: Tensor<'f32'>; n: NormBuffers; dx: Tensor<'f32'> },
  { accumulate }: BackwardOptions,
): Promise<PreparedDispatch[]> {
  return prepareLayerNormBackward(
    ctx,
    {
      dy: t.dy,
      x: t.x,
      weight: store.param(`${name}.weight`),
      mean: t.n.mean,
      rstd: t.n.rstd,
      dx: t.dx,
      dweight: store.grad(`${name}.weight`),
      dbias: store.grad(`${name}.bias`),
      partials: store.normPartials(name),
    },
    { accumulateParams: accumulate },
  );
}

/**
 * d pred of the computed rows (from the forward's loss kernel) → every head gradient → d z,
 * scattered to every row of `trunkGrads.dh` (zeros where no row was computed). The compact
 * d z passes through the first M rows of `trunkGrads.stream`, free until the post-trunk
 * norm's backward writes it.
 */
export async function prepareHeadRowsBackward(
  ctx: GpuContext,
  c: AimConfig,
  store: ParameterStore,
  full: HeadBuffers,
  rows: HeadRows,
  trunkGrads: TrunkGradBuffers,
  opts: BackwardOptions,
): Promise<PreparedDispatch[]> {
  const { accumulate } = opts;
  const h = headRowViews(full, rows.count);
  const compactDz = leadingRows(trunkGrads.stream, rows.count);
  const out: PendingDispatches[] = [
    // Through the MLP head into its dn; without one, straight to the compact d z.
    prepareLinearBackward(
      ctx,
      store,
      'head.proj_out.weight',
      { dy: h.dpred, x: projOutInput(h), dx: h.mlp ? h.mlp.dn : compactDz },
      trunkGrads.splitKPartials,
      accumulate,
    ),
    prepareColumnSum(ctx, { x: h.dpred, out: store.grad('head.proj_out.bias') }, { accumulate }),
  ];
  if (h.mlp)
    out.push(...mlpHeadBackward(ctx, c, store, h.postNorm.y, h.mlp, compactDz, trunkGrads, opts));
  out.push(prepareGatherRows(ctx, { src: compactDz, index: rows.lists.rowOf, out: trunkGrads.dh }));
  return gather(out);
}

/** d(the MLP head's LayerNorm output) in `h.dn` → its gradients → d z into `dz`. */
function mlpHeadBackward(
  ctx: GpuContext,
  c: AimConfig,
  store: ParameterStore,
  z: Tensor<'f32'>,
  h: MlpHeadBuffers,
  dz: Tensor<'f32'>,
  trunkGrads: TrunkGradBuffers,
  opts: BackwardOptions,
): PendingDispatches[] {
  const { accumulate } = opts;
  const last = h.blocks.length ? h.blocks[h.blocks.length - 1].out : h.input;
  const out: PendingDispatches[] = [
    normBackward(ctx, store, 'head.norm', { dy: h.dn, x: last, n: h.headNorm, dx: h.stream }, opts),
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
        normBackward(
          ctx,
          store,
          key('norm_extra'),
          { dy: h.stream, x: blockInput(h, j), n: b.extra, dx: h.extraDx! },
          opts,
        ),
        prepareAccumulate(ctx, { target: h.stream, x: h.extraDx! }),
      );
    }
  }
  // h₀ = z·W_inᵀ + b_in + positions, on the compact rows.
  out.push(
    prepareLinearBackward(
      ctx,
      store,
      'head.proj_in.weight',
      { dy: h.stream, x: z, dx: dz },
      trunkGrads.splitKPartials,
      accumulate,
    ),
    prepareColumnSum(ctx, { x: h.stream, out: store.grad('head.proj_in.bias') }, { accumulate }),
  );
  return out;
}

/**
 * d z in `trunkGrads.dh` (every row) → the post-trunk norm's gradients; leaves d(trunk
 * output) in `trunkGrads.stream` (written, not added).
 */
export function prepareHeadFixedBackward(
  ctx: GpuContext,
  store: ParameterStore,
  h: HeadBuffers,
  trunkOut: Tensor<'f32'>,
  trunkGrads: TrunkGradBuffers,
  opts: BackwardOptions,
): Promise<PreparedDispatch[]> {
  return normBackward(
    ctx,
    store,
    'trunk.post_trunk_norm',
    { dy: trunkGrads.dh, x: trunkOut, n: h.postNorm, dx: trunkGrads.stream },
    opts,
  );
}
