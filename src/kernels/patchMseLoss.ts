/**
 * AIM's pre-training loss on the GPU (`shaders/patch_mse_loss.wgsl`): the prediction at
 * position i against target patch i + 1, each target patch normalised by its own mean and
 * unbiased variance (norm_pix_loss; or, with targets 'raw', as it is), squared error
 * averaged over the patch and then over the targets outside each sample's prefix. Also per-position losses [B, K] (for per-chunk
 * validation curves) and the gradient with respect to the predictions.
 *
 * The count N of counted pairs is computed on the GPU from the prefix lengths, so the
 * prepared dispatches stay valid when a new batch uploads new prefix lengths.
 */
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  foldedGrid,
  runOnce,
  type BindingResource,
  type PreparedDispatch,
} from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import type { PatchMseShape, PixelTargets } from '../reference/patchMseLoss';
import {
  dims,
  requireDistinct,
  requireDtype,
  requireOneValue,
  requireShape,
  requireSize,
} from './checks';
import { prepareReduceSumOfBuffer } from './reduceSum';

export type { PatchMseShape, PixelTargets };

/**
 * Validates targets [B,K,P], prefixLengths u32 [B] and pred: [B,K,P], or [M,P] when the
 * prediction rows are gathered (`rows` u32 [M]); returns B, K, P. Normalised targets need
 * P ≥ 2 (an unbiased variance); raw ones any P ≥ 1.
 */
export function patchMseShape(
  pred: Tensor<'f32'>,
  targets: Tensor<'f32'>,
  prefixLengths: Tensor<'u32'>,
  rows?: Tensor<'u32'>,
  kind: PixelTargets = 'normalized',
): PatchMseShape {
  // Without rows, pred is the reference shape (and the messages name targets as the odd one).
  const full = rows ? targets : pred;
  if (full.shape.length !== 3)
    throw new RangeError(
      `patchMseLoss: ${rows ? 'targets' : 'pred'} is ${dims(full.shape)}, expected [B, K, P]`,
    );
  const [batch, positions, patchValues] = full.shape;
  if (rows) {
    requireDtype('patchMseLoss', 'rows', rows, 'u32');
    requireShape('patchMseLoss', 'pred', pred, [rows.size, patchValues]);
  } else {
    requireShape('patchMseLoss', 'targets', targets, pred.shape);
  }
  requireDtype('patchMseLoss', 'prefixLengths', prefixLengths, 'u32');
  requireShape('patchMseLoss', 'prefixLengths', prefixLengths, [batch]);
  if (batch < 1) throw new RangeError('patchMseLoss: empty batch');
  if (positions < 2) throw new RangeError(`patchMseLoss: K = ${positions}, need at least 2`);
  if (kind === 'normalized' && patchValues < 2)
    throw new RangeError(
      `patchMseLoss: P = ${patchValues}, the normalised targets' unbiased variance needs 2`,
    );
  if (patchValues < 1) throw new RangeError('patchMseLoss: P = 0, a patch has no values');
  return { batch, positions, patchValues };
}

export interface PatchMseLossInputs {
  /** f32 [B, K, P]: the prediction at position i is compared with target patch i + 1. */
  pred: Tensor<'f32'>;
  /** f32 [B, K, P]: the target patches (un-normalised; with normalised targets, here). */
  targets: Tensor<'f32'>;
  /** u32 [B]: targets inside a sample's prefix are not counted. */
  prefixLengths: Tensor<'u32'>;
  /** f32 [1]: receives N, the number of counted pairs (else a private buffer). */
  countedTargets?: Tensor<'f32'>;
  /**
   * u32 [M]: the predictions were computed only for these full rows b·K + i (NO_ROW: a
   * padding row); pred and gradPred are then [M, P], row m belonging to full row rows[m].
   */
  rows?: Tensor<'u32'>;
}

export interface PatchMseLossTensors extends PatchMseLossInputs {
  /** f32 [B, K]: per-position losses, 0 where not counted. */
  perPosition: Tensor<'f32'>;
  /** f32 [1]: the loss, Σ perPosition / N. */
  loss?: Tensor<'f32'>;
  /** f32 [B, K, P]: also write d loss / d pred in the same pass (fused backward). */
  gradPred?: Tensor<'f32'>;
}

export interface PatchMseLossBackwardTensors extends PatchMseLossInputs {
  /** f32 [B, K, P]: d loss / d pred. */
  gradPred: Tensor<'f32'>;
}

export interface PatchMseLossOptions {
  /** Workgroups per grid dimension before folding (tests lower it; default: the device's). */
  gridLimit?: number;
  /** Each target patch normalised (norm_pix_loss, the default) or compared raw. */
  targets?: PixelTargets;
}

async function prepareRows(
  ctx: GpuContext,
  t: PatchMseLossInputs & { perPosition?: Tensor<'f32'>; gradPred?: Tensor<'f32'> },
  opts: PatchMseLossOptions,
): Promise<{ dispatches: PreparedDispatch[]; counted: BindingResource }> {
  const { pred, targets, prefixLengths } = t;
  const kind = opts.targets ?? 'normalized';
  if (kind !== 'normalized' && kind !== 'raw')
    throw new RangeError(`patchMseLoss: targets "${String(kind)}", expected normalized or raw`);
  const s = patchMseShape(pred, targets, prefixLengths, t.rows, kind);
  const rows = s.batch * s.positions;
  const predRows = t.rows ? t.rows.size : rows;
  if (t.perPosition)
    requireSize('patchMseLoss', 'perPosition', t.perPosition, rows, dims([s.batch, s.positions]));
  if (t.gradPred) requireShape('patchMseLoss', 'gradPred', t.gradPred, pred.shape);
  requireOneValue('patchMseLoss', 'countedTargets', t.countedTargets);
  requireDistinct(
    'patchMseLoss',
    { perPosition: t.perPosition, gradPred: t.gradPred, countedTargets: t.countedTargets },
    { pred, targets, prefixLengths, rows: t.rows },
  );

  const owned: GPUBuffer[] = [];
  const ownCounted = t.countedTargets
    ? undefined
    : ctx.device.createBuffer({
        label: 'patchMseLoss counted targets N',
        size: 4,
        usage: GPUBufferUsage.STORAGE,
      });
  if (ownCounted) owned.push(ownCounted);
  const counted: BindingResource = t.countedTargets?.binding ?? ownCounted!;

  const constants = {
    WRITE_LOSS: t.perPosition ? 1 : 0,
    WRITE_GRAD: t.gradPred ? 1 : 0,
    GATHERED: t.rows ? 1 : 0,
    NORMALIZE_TARGETS: kind === 'normalized' ? 1 : 0,
  };
  const [countKernel, rowKernel] = await Promise.all([
    ctx.kernels.get({ shader: 'patch_mse_loss', entryPoint: 'countTargets' }),
    ctx.kernels.get({ shader: 'patch_mse_loss', constants }),
  ]);
  const uniform = uniformU32(ctx, 'patchMseLoss dims', [
    s.batch,
    s.positions,
    s.patchValues,
    rows,
    predRows,
  ]);
  const limit = opts.gridLimit ?? ctx.choices.limits.maxComputeWorkgroupsPerDimension;
  const write = ctx.placeholder('write');
  const count = createDispatch(
    ctx,
    countKernel,
    [prefixLengths.binding, counted, uniform],
    [1],
    [],
    { flops: s.batch, bytesRead: 4 * s.batch, bytesWritten: 4 },
  );
  // Per predicted value: a difference, a square and a sum (and the gradient when written).
  const predValues = predRows * s.patchValues;
  const main = createDispatch(
    ctx,
    rowKernel,
    [
      prefixLengths.binding,
      counted,
      uniform,
      pred.binding,
      targets.binding,
      t.perPosition?.binding ?? write,
      t.gradPred?.binding ?? write,
      t.rows?.binding ?? ctx.placeholder('read'),
    ],
    foldedGrid(Math.max(rows, predRows), limit),
    [uniform, ...owned],
    {
      flops: 3 * predValues,
      bytesRead: 4 * (2 * predValues + s.batch),
      bytesWritten: 4 * ((t.perPosition ? rows : 0) + (t.gradPred ? predValues : 0)),
    },
  );
  return { dispatches: [count, main], counted };
}

/**
 * Dispatches (in order) that write N, the per-position losses, optionally the gradient
 * (fused), and, when `loss` is given, the loss = Σ perPosition / N.
 */
export async function preparePatchMseLoss(
  ctx: GpuContext,
  t: PatchMseLossTensors,
  opts: PatchMseLossOptions = {},
): Promise<PreparedDispatch[]> {
  requireOneValue('patchMseLoss', 'loss', t.loss);
  if (t.loss)
    requireDistinct(
      'patchMseLoss',
      { loss: t.loss },
      { perPosition: t.perPosition, gradPred: t.gradPred, countedTargets: t.countedTargets },
    );
  const { dispatches, counted } = await prepareRows(ctx, t, opts);
  if (t.loss) {
    dispatches.push(
      ...(await prepareReduceSumOfBuffer(
        ctx,
        { x: t.perPosition.binding, out: t.loss.binding, divideBy: counted },
        { length: t.perPosition.size, gridLimit: opts.gridLimit },
      )),
    );
  }
  return dispatches;
}

/** Dispatches that write N and gradPred = d loss / d pred (2·(pred − t̂)/(P·N), 0 elsewhere). */
export async function preparePatchMseLossBackward(
  ctx: GpuContext,
  t: PatchMseLossBackwardTensors,
  opts: PatchMseLossOptions = {},
): Promise<PreparedDispatch[]> {
  return (await prepareRows(ctx, t, opts)).dispatches;
}

/** Runs the forward once: per-position losses [B, K] and the loss [1], as new tensors. */
export async function patchMseLoss(
  ctx: GpuContext,
  t: Pick<PatchMseLossInputs, 'pred' | 'targets' | 'prefixLengths'>,
  opts: PatchMseLossOptions = {},
): Promise<{ perPosition: Tensor<'f32'>; loss: Tensor<'f32'> }> {
  const s = patchMseShape(t.pred, t.targets, t.prefixLengths, undefined, opts.targets);
  const perPosition = Tensor.empty(ctx, [s.batch, s.positions], 'f32', 'per-position loss');
  const loss = Tensor.empty(ctx, [1], 'f32', 'loss');
  await runOnce(ctx, await preparePatchMseLoss(ctx, { ...t, perPosition, loss }, opts));
  return { perPosition, loss };
}
