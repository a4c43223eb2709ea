/**
 * Global gradient-norm clipping on the GPU, torch.nn.utils.clip_grad_norm_(max_norm) style,
 * without a CPU round trip: the clip scale lands in a GPU buffer that AdamW reads.
 *
 * Dispatches, in order:
 *  1. per gradient tensor, reduce_sum.wgsl (SQUARE) writes one sum of squares per 1024
 *     values into that tensor's slice of one partials buffer (tensors of any size, from 1
 *     value to millions, one dispatch each);
 *  2. reduce_sum.wgsl passes sum the partials into one value S;
 *  3. grad_norm.wgsl: norm = sqrt(S), clipScale = min(1, maxNorm / (norm + 1e-6)), or the
 *     non-finite norm itself (and a skipped-step counter) when a gradient held NaN/Inf.
 * Every sum is a balanced tree, so S is accurate to γ_d·S with d ≈ 11 + 10·passes.
 * Unlike torch, the gradients are not rescaled in place: AdamW applies the scale as it reads them.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { uniformBuffer } from '../gpu/uniforms';
import { requireDistinct, requireDtype, requireOneValue } from './checks';
import { prepareBlockSums, prepareReduceSumOfBuffer, REDUCE_BLOCK } from './reduceSum';

/** torch's clip_coef = max_norm / (total_norm + 1e-6). */
const CLIP_EPSILON = 1e-6;

export interface GradNormTensors {
  /** The gradients whose global L2 norm is taken, read in place. */
  grads: readonly Tensor<'f32'>[];
  /** f32 [1]: receives the norm. */
  norm: Tensor<'f32'>;
  /** f32 [1]: receives min(1, maxNorm / (norm + 1e-6)), or the norm itself if not finite. */
  clipScale: Tensor<'f32'>;
  /** u32 [1]: incremented on the GPU every time the norm is NaN or Inf (the step is skipped). */
  nonFiniteSteps?: Tensor<'u32'>;
}

export interface GradNormOptions {
  /** torch's max_norm. Default 1.0 (AIM's recipe). */
  maxNorm?: number;
  /** Workgroups per grid dimension before folding (tests lower it; default: the device's). */
  gridLimit?: number;
}

/** Partial sums of squares one gradient of `size` values contributes (one per REDUCE_BLOCK). */
export function gradNormBlocks(size: number): number {
  return Math.max(1, Math.ceil(size / REDUCE_BLOCK));
}

/**
 * Dispatches that write the global L2 norm of `grads` into norm[0] and the clip scale into
 * clipScale[0]. Prepare once; record every step.
 */
export async function prepareGradNorm(
  ctx: GpuContext,
  { grads, norm, clipScale, nonFiniteSteps }: GradNormTensors,
  opts: GradNormOptions = {},
): Promise<PreparedDispatch[]> {
  if (grads.length === 0) throw new RangeError('gradNorm: no gradient tensors');
  const maxNorm = opts.maxNorm ?? 1;
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm))
    throw new RangeError(`gradNorm: maxNorm must be positive and finite, got ${maxNorm}`);
  const outputs = { norm, clipScale, nonFiniteSteps };
  for (const [name, t] of Object.entries(outputs)) requireOneValue('gradNorm', name, t);
  const named = Object.fromEntries(grads.map((g, i) => [`grads[${i}]`, g]));
  requireDistinct('gradNorm', outputs, named);
  grads.forEach((g, i) => requireDtype('gradNorm', `grads[${i}]`, g, 'f32'));

  const blocks = grads.map((g) => gradNormBlocks(g.size));
  const totalBlocks = blocks.reduce((a, b) => a + b, 0);
  const partials = ctx.device.createBuffer({
    label: `gradNorm partial sums of squares [${totalBlocks}]`,
    size: totalBlocks * 4,
    usage: GPUBufferUsage.STORAGE,
  });
  const sumOfSquares = ctx.device.createBuffer({
    label: 'gradNorm Σg²',
    size: 4,
    usage: GPUBufferUsage.STORAGE,
  });

  const dispatches: PreparedDispatch[] = [];
  let offset = 0;
  for (let i = 0; i < grads.length; i++) {
    dispatches.push(
      ...(await prepareBlockSums(
        ctx,
        { x: grads[i].buffer, out: partials },
        { length: grads[i].size, outOffset: offset, square: true, gridLimit: opts.gridLimit },
      )),
    );
    offset += blocks[i];
  }
  dispatches[0].owned.push(partials);
  dispatches.push(
    ...(await prepareReduceSumOfBuffer(
      ctx,
      { x: partials, out: sumOfSquares },
      { length: totalBlocks, gridLimit: opts.gridLimit },
    )),
  );

  const constants = nonFiniteSteps ? { COUNT_NON_FINITE: 1 } : undefined;
  const kernel = await ctx.kernels.get({ shader: 'grad_norm', constants });
  const params = uniformBuffer(ctx, `${kernel.name} params`, [
    ['f32', maxNorm],
    ['f32', CLIP_EPSILON],
  ]);
  dispatches.push(
    createDispatch(
      ctx,
      kernel,
      [
        sumOfSquares,
        norm.buffer,
        clipScale.buffer,
        params,
        nonFiniteSteps?.buffer ?? ctx.placeholder('write'),
      ],
      [1],
      [params, sumOfSquares],
      { flops: 8, bytesRead: 4, bytesWritten: 8 },
    ),
  );
  return dispatches;
}

/** Runs the gradient norm once (tests, one-off checks). */
export async function gradNorm(
  ctx: GpuContext,
  t: GradNormTensors,
  opts: GradNormOptions = {},
): Promise<void> {
  await runOnce(ctx, await prepareGradNorm(ctx, t, opts));
}
