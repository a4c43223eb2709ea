/**
 * Split-K for matmuls whose output tiles would not fill the GPU — the weight gradients
 * dW = dYᵀ·X, whose output is small (a weight's size) and whose K is every token of the batch
 * (B·T = 16384 for aim-tiny at batch 256: 3 to 64 output tiles against an H100's 132 SMs).
 *
 * Two passes, both deterministic (no atomics): matmul.wgsl with SPLIT_K multiplies each
 * K-range into its own slice of a [batch][splits][M][N] scratch buffer, then
 * matmul_split_k_reduce.wgsl adds each output's partials in split order and applies the
 * matmul's epilogue (bias, GELU or its gradient, residual, accumulate). Two runs give the same
 * bits; the result differs from the one-pass kernel's only in the summation order, within the
 * same γ_K bound (the partial sums are a blocked summation).
 *
 * The choice (matmulPlan.ts) is a pure function of the capabilities and the shape, so the step profile can
 * make it as on an H100 (src/gpu/adapterProfiles.ts). The partials live in one scratch buffer
 * that every split product of a step shares (they run one after another): the model
 * allocates it once, sized by `matmulSplitKCapacity` (matmulPlan.ts) for any adapter, so the
 * memory estimate needs no adapter; a product prepared without one owns its own.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, type DispatchCost, type PreparedDispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import type { MatmulShape } from '../reference/matmul';
import { flatGridFor, flatKernel } from './flat';
import type { SplitK } from './matmulPlan';

export interface SplitKReduceTensors {
  /** [batch · splits, M, N], written by matmul.wgsl with SPLIT_K. */
  partials: Tensor<'f32'>;
  c: Tensor<'f32'>;
  bias?: Tensor<'f32'>;
  residual?: Tensor<'f32'>;
  aux?: Tensor<'f32'>;
}

export interface SplitKReduceOptions {
  activation?: 'none' | 'gelu' | 'gelu-grad';
  accumulate?: boolean;
}

/**
 * The second pass: C = epilogue(Σ_split partials[split]) in split order. The caller (the
 * matmul wrapper) has checked every tensor's size; `partials` is owned by the first pass.
 */
export async function prepareSplitKReduce(
  ctx: GpuContext,
  t: SplitKReduceTensors,
  s: MatmulShape,
  split: SplitK,
  opts: SplitKReduceOptions = {},
): Promise<PreparedDispatch[]> {
  const activation = opts.activation ?? 'none';
  const constants: Record<string, number> = {};
  if (t.bias) constants.HAS_BIAS = 1;
  if (activation !== 'none') constants.ACTIVATION = activation === 'gelu' ? 1 : 2;
  if (t.residual) constants.ADD_RESIDUAL = 1;
  if (opts.accumulate) constants.ACCUMULATE = 1;
  const kernel = await flatKernel(ctx, { shader: 'matmul_split_k_reduce', constants });
  const outputs = s.batch * s.m * s.n;
  const uniform = uniformU32(ctx, `${kernel.name} params`, [outputs, s.n, split.splits, s.m * s.n]);
  const read = ctx.placeholder('read');
  const epilogueReads =
    (t.bias ? s.n : 0) +
    (t.residual ? outputs : 0) +
    (activation === 'gelu-grad' ? outputs : 0) +
    (opts.accumulate ? outputs : 0);
  const cost: DispatchCost = {
    flops: outputs * split.splits,
    bytesRead: 4 * (outputs * split.splits + epilogueReads),
    bytesWritten: 4 * (outputs + (activation === 'gelu' ? outputs : 0)),
  };
  return [
    createDispatch(
      ctx,
      kernel,
      [
        t.partials.binding,
        t.c.binding,
        uniform,
        t.bias?.binding ?? read,
        t.residual?.binding ?? read,
        t.aux?.binding ?? ctx.placeholder('write'),
      ],
      flatGridFor(ctx, outputs),
      [uniform],
      cost,
    ),
  ];
}
