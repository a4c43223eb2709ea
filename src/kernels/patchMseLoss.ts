/**
 * AIM's pre-training loss on the GPU (`shaders/patch_mse_loss.wgsl`): the prediction at
 * position i against target patch i + 1, each target patch normalised by its own mean and
 * unbiased variance (norm_pix_loss), squared error averaged over the patch and then over
 * the targets outside each sample's prefix. Also per-position losses [B, K] (for per-chunk
 * validation curves) and the gradient with respect to the predictions.
 *
 * The count N of counted pairs is computed on the GPU from the prefix lengths, so the
 * prepared dispatches stay valid when a new batch uploads new prefix lengths.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, foldedGrid, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import type { PatchMseShape } from '../reference/patchMseLoss';
import { prepareReduceSumOfBuffer } from './reduceSum';

export type { PatchMseShape };

function dims(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Validates pred [B,K,P], targets [B,K,P], prefixLengths u32 [B]; returns B, K, P. */
export function patchMseShape(
  pred: Tensor<'f32'>,
  targets: Tensor<'f32'>,
  prefixLengths: Tensor<'u32'>,
): PatchMseShape {
  if (pred.shape.length !== 3)
    throw new RangeError(`patchMseLoss: pred is ${dims(pred.shape)}, expected [B, K, P]`);
  const [batch, positions, patchValues] = pred.shape;
  if (targets.shape.join(',') !== pred.shape.join(','))
    throw new RangeError(
      `patchMseLoss: targets are ${dims(targets.shape)}, pred is ${dims(pred.shape)}`,
    );
  if (prefixLengths.dtype !== 'u32' || prefixLengths.size !== batch)
    throw new RangeError(
      `patchMseLoss: prefixLengths must be u32 [${batch}], got ${prefixLengths.dtype} ${dims(prefixLengths.shape)}`,
    );
  if (batch < 1) throw new RangeError('patchMseLoss: empty batch');
  if (positions < 2) throw new RangeError(`patchMseLoss: K = ${positions}, need at least 2`);
  if (patchValues < 2)
    throw new RangeError(`patchMseLoss: P = ${patchValues}, the unbiased variance needs 2`);
  return { batch, positions, patchValues };
}

export interface PatchMseLossOutputs {
  /** f32 [B, K]: per-position losses, 0 where not counted. */
  perPosition: Tensor<'f32'>;
  /** f32 [1]: the loss, Σ perPosition / N. */
  loss?: Tensor<'f32'>;
  /** f32 [B, K, P]: also write d loss / d pred in the same pass (fused backward). */
  gradPred?: Tensor<'f32'>;
  /** f32 [1]: receives N, the number of counted pairs (else a private buffer). */
  countedTargets?: Tensor<'f32'>;
}

export interface PatchMseLossOptions {
  /** Workgroups per grid dimension before folding (tests lower it; default: the device's). */
  gridLimit?: number;
}

async function prepareRows(
  ctx: GpuContext,
  s: PatchMseShape,
  pred: Tensor<'f32'>,
  targets: Tensor<'f32'>,
  prefixLengths: Tensor<'u32'>,
  outs: { perPosition?: Tensor<'f32'>; gradPred?: Tensor<'f32'>; countedTargets?: Tensor<'f32'> },
  opts: PatchMseLossOptions,
): Promise<{ dispatches: PreparedDispatch[]; counted: GPUBuffer }> {
  const rows = s.batch * s.positions;
  if (outs.perPosition && outs.perPosition.size !== rows)
    throw new RangeError(
      `patchMseLoss: perPosition is ${dims(outs.perPosition.shape)}, expected [${s.batch},${s.positions}]`,
    );
  if (outs.gradPred && outs.gradPred.shape.join(',') !== pred.shape.join(','))
    throw new RangeError(
      `patchMseLoss: gradPred is ${dims(outs.gradPred.shape)}, expected ${dims(pred.shape)}`,
    );
  if (outs.countedTargets && outs.countedTargets.size < 1)
    throw new RangeError('patchMseLoss: countedTargets needs one value');
  const inputs = [pred.buffer, targets.buffer, prefixLengths.buffer];
  const outputs = [outs.perPosition, outs.gradPred, outs.countedTargets]
    .filter((t) => t !== undefined)
    .map((t) => t.buffer);
  if (outputs.some((b) => inputs.includes(b)) || new Set(outputs).size !== outputs.length)
    throw new RangeError('patchMseLoss: outputs must be distinct from each other and the inputs');

  const owned: GPUBuffer[] = [];
  const counted =
    outs.countedTargets?.buffer ??
    ctx.device.createBuffer({
      label: 'patchMseLoss counted targets N',
      size: 4,
      usage: GPUBufferUsage.STORAGE,
    });
  if (!outs.countedTargets) owned.push(counted);

  const constants = { WRITE_LOSS: outs.perPosition ? 1 : 0, WRITE_GRAD: outs.gradPred ? 1 : 0 };
  const [countKernel, rowKernel] = await Promise.all([
    ctx.kernels.get({ shader: 'patch_mse_loss', entryPoint: 'countTargets' }),
    ctx.kernels.get({ shader: 'patch_mse_loss', constants }),
  ]);
  const uniform = uniformU32(ctx, 'patchMseLoss dims', [s.batch, s.positions, s.patchValues, rows]);
  const limit = opts.gridLimit ?? ctx.capabilities.limits.maxComputeWorkgroupsPerDimension;
  const write = ctx.placeholder('write');
  const count = createDispatch(ctx, countKernel, [prefixLengths.buffer, counted, uniform], [1]);
  const main = createDispatch(
    ctx,
    rowKernel,
    [
      prefixLengths.buffer,
      counted,
      uniform,
      pred.buffer,
      targets.buffer,
      outs.perPosition?.buffer ?? write,
      outs.gradPred?.buffer ?? write,
    ],
    foldedGrid(rows, limit),
    [uniform, ...owned],
  );
  return { dispatches: [count, main], counted };
}

/**
 * Dispatches (in order) that write N, the per-position losses, optionally the gradient
 * (fused), and, when `out.loss` is given, the loss = Σ perPosition / N.
 */
export async function preparePatchMseLoss(
  ctx: GpuContext,
  pred: Tensor<'f32'>,
  targets: Tensor<'f32'>,
  prefixLengths: Tensor<'u32'>,
  out: PatchMseLossOutputs,
  opts: PatchMseLossOptions = {},
): Promise<PreparedDispatch[]> {
  const s = patchMseShape(pred, targets, prefixLengths);
  if (out.loss && out.loss.size < 1) throw new RangeError('patchMseLoss: loss needs one value');
  if (out.loss && [out.perPosition, out.gradPred, out.countedTargets].includes(out.loss))
    throw new RangeError('patchMseLoss: loss must be its own tensor');
  const { dispatches, counted } = await prepareRows(
    ctx,
    s,
    pred,
    targets,
    prefixLengths,
    out,
    opts,
  );
  if (out.loss) {
    dispatches.push(
      ...(await prepareReduceSumOfBuffer(
        ctx,
        out.perPosition.buffer,
        out.perPosition.size,
        out.loss.buffer,
        0,
        { divideBy: counted, gridLimit: opts.gridLimit },
      )),
    );
  }
  return dispatches;
}

/** Dispatches that write N and gradPred = d loss / d pred (2·(pred − t̂)/(P·N), 0 elsewhere). */
export async function preparePatchMseLossBackward(
  ctx: GpuContext,
  pred: Tensor<'f32'>,
  targets: Tensor<'f32'>,
  prefixLengths: Tensor<'u32'>,
  gradPred: Tensor<'f32'>,
  opts: PatchMseLossOptions & { countedTargets?: Tensor<'f32'> } = {},
): Promise<PreparedDispatch[]> {
  const s = patchMseShape(pred, targets, prefixLengths);
  const { dispatches } = await prepareRows(
    ctx,
    s,
    pred,
    targets,
    prefixLengths,
    { gradPred, countedTargets: opts.countedTargets },
    opts,
  );
  return dispatches;
}

/** Runs the forward once: per-position losses [B, K] and the loss [1], as new tensors. */
export async function patchMseLoss(
  ctx: GpuContext,
  pred: Tensor<'f32'>,
  targets: Tensor<'f32'>,
  prefixLengths: Tensor<'u32'>,
): Promise<{ perPosition: Tensor<'f32'>; loss: Tensor<'f32'> }> {
  const s = patchMseShape(pred, targets, prefixLengths);
  const perPosition = Tensor.empty(ctx, [s.batch, s.positions], 'f32', 'per-position loss');
  const loss = Tensor.empty(ctx, [1], 'f32', 'loss');
  await runOnce(
    ctx,
    await preparePatchMseLoss(ctx, pred, targets, prefixLengths, { perPosition, loss }),
  );
  return { perPosition, loss };
}
