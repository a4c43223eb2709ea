/**
 * The probes' loss (`shaders/probe_cross_entropy.wgsl`): mean softmax cross-entropy of
 * logits [B, C] against labels u32 [B] and d loss / d logits, in one dispatch. `loss` [2]
 * receives the batch's mean in [0] and adds it to [1], a running sum the probe trainer reads
 * (and zeroes) once per epoch rather than reading back every step.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import { dims, requireDistinct, requireDtype, requireSize } from './checks';

export interface ProbeCrossEntropyTensors {
  logits: Tensor<'f32'>;
  labels: Tensor<'u32'>;
  dlogits: Tensor<'f32'>;
  /** [2]: the mean loss, and a running sum of means. */
  loss: Tensor<'f32'>;
}

export async function prepareProbeCrossEntropy(
  ctx: GpuContext,
  t: ProbeCrossEntropyTensors,
  s: { batch: number; classes: number },
): Promise<PreparedDispatch[]> {
  const op = 'probe cross-entropy';
  for (const [name, v] of Object.entries(s))
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
  const n = s.batch * s.classes;
  requireSize(op, 'logits', t.logits, n, dims([s.batch, s.classes]));
  requireSize(op, 'dlogits', t.dlogits, n, dims([s.batch, s.classes]));
  requireDtype(op, 'labels', t.labels, 'u32');
  requireSize(op, 'labels', t.labels, s.batch);
  requireSize(op, 'loss', t.loss, 2);
  requireDistinct(op, { dlogits: t.dlogits, loss: t.loss }, { logits: t.logits, labels: t.labels });
  const kernel = await ctx.kernels.get({ shader: 'probe_cross_entropy' });
  const params = uniformU32(ctx, `${kernel.name} params`, [s.batch, s.classes]);
  return [
    createDispatch(
      ctx,
      kernel,
      [t.logits.binding, t.labels.binding, t.dlogits.binding, t.loss.binding, params],
      [1],
      [params],
      { flops: 6 * n, bytesRead: 4 * (n + s.batch), bytesWritten: 4 * (n + 2) },
    ),
  ];
}

/** One-shot (tests): returns the loss [2] and dlogits. */
export async function probeCrossEntropy(
  ctx: GpuContext,
  t: Pick<ProbeCrossEntropyTensors, 'logits' | 'labels'> & { loss?: Tensor<'f32'> },
  s: { batch: number; classes: number },
): Promise<{ loss: Tensor<'f32'>; dlogits: Tensor<'f32'> }> {
  const dlogits = Tensor.empty(ctx, [s.batch, s.classes], 'f32', 'probe dlogits');
  const loss = t.loss ?? Tensor.empty(ctx, [2], 'f32', 'probe loss');
  await runOnce(ctx, await prepareProbeCrossEntropy(ctx, { ...t, dlogits, loss }, s));
  return { loss, dlogits };
}
