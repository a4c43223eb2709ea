/**
 * Global gradient-norm clipping on the GPU, torch.nn.utils.clip_grad_norm_(max_norm) style,
 * without a CPU round trip: the clip scale lands in a GPU buffer that AdamW reads.
 *
 * Dispatches, in order:
 *  1. per buffer holding gradients — the gradient arena holds them all (allocation.ts), a
 *     tensor of its own holds one — grad_norm_partials.wgsl writes one sum of squares per
 *     block of ≤ 1024 values of each tensor into one partials buffer, from a table of blocks
 *     (a block never straddles two tensors): one dispatch for the whole model's gradients
 *     (one per arena buffer), not one per tensor;
 *  2. reduce_sum.wgsl passes sum the partials into one value S;
 *  3. grad_norm.wgsl: norm = sqrt(S), clipScale = min(1, maxNorm / (norm + 1e-6)), or the
 *     non-finite norm itself (and a skipped-step counter) when a gradient held NaN/Inf.
 * Every sum is a balanced tree, so S is accurate to γ_d·S with d ≈ 11 + 10·passes. The
 * partials are those the per-tensor reduction gave (same blocks, same tree, same order when
 * the gradients are listed in arena order), so the norm is bit-for-bit the same.
 * Unlike torch, the gradients are not rescaled in place: AdamW applies the scale as it reads them.
 */
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  foldedGrid,
  runOnce,
  type DispatchCost,
  type PreparedDispatch,
} from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { uniformBuffer, uniformU32 } from '../gpu/uniforms';
import { requireDistinct, requireDtype, requireOneValue } from './checks';
import { prepareReduceSumOfBuffer, REDUCE_BLOCK } from './reduceSum';

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
  /**
   * Once `nonFiniteSteps` is non-zero, write a NaN clip scale whatever the norm, so AdamW
   * skips every later update until the counter is reset (the pipelined training loop).
   */
  haltAfterNonFinite?: boolean;
}

/** Partial sums of squares one gradient of `size` values contributes (one per REDUCE_BLOCK). */
export function gradNormBlocks(size: number): number {
  return Math.max(1, Math.ceil(size / REDUCE_BLOCK));
}

/** Bytes of one entry of the block table (first value, count: two u32). */
export const GRAD_NORM_TABLE_ENTRY_BYTES = 8;

/** Gradients that share one buffer: one partial-sums dispatch reads them all. */
interface GradientGroup {
  buffer: GPUBuffer;
  /** Index in `grads` of each member, in the order given. */
  members: number[];
}

/** Groups `grads` by buffer, in order of first appearance (the partials' order). */
function groupByBuffer(grads: readonly Tensor<'f32'>[]): GradientGroup[] {
  const groups = new Map<GPUBuffer, GradientGroup>();
  grads.forEach((g, i) => {
    const group = groups.get(g.buffer) ?? { buffer: g.buffer, members: [] };
    group.members.push(i);
    groups.set(g.buffer, group);
  });
  return [...groups.values()];
}

/**
 * The block tables of the partial-sums dispatches, one per buffer holding gradients, as
 * numbers of entries — what memory.ts counts (each tensor of size n contributes
 * gradNormBlocks(n) entries to its buffer's table).
 */
export function gradNormTableEntries(sizesPerBuffer: readonly (readonly number[])[]): number[] {
  return sizesPerBuffer.map((sizes) => sizes.reduce((n, size) => n + gradNormBlocks(size), 0));
}

/** (first value, count) of every block of the group's tensors, starts in the whole buffer. */
function blockTable(
  grads: readonly Tensor<'f32'>[],
  members: readonly number[],
): Uint32Array<ArrayBuffer> {
  const entries: number[] = [];
  for (const i of members) {
    const g = grads[i];
    const first = g.byteOffset / 4;
    for (let b = 0; b < gradNormBlocks(g.size); b++) {
      const start = b * REDUCE_BLOCK;
      entries.push(first + start, Math.max(0, Math.min(REDUCE_BLOCK, g.size - start)));
    }
  }
  return Uint32Array.from(entries);
}

function storageFrom(ctx: GpuContext, label: string, data: Uint32Array<ArrayBuffer>): GPUBuffer {
  const buffer = ctx.device.createBuffer({
    label,
    size: Math.max(4, data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  ctx.device.queue.writeBuffer(buffer, 0, data);
  return buffer;
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

  const partialsKernel = await ctx.kernels.get({ shader: 'grad_norm_partials' });
  const limit = opts.gridLimit ?? ctx.choices.limits.maxComputeWorkgroupsPerDimension;
  const dispatches: PreparedDispatch[] = [];
  let offset = 0;
  groupByBuffer(grads).forEach((group, g) => {
    const entries = blockTable(grads, group.members);
    const count = entries.byteLength / GRAD_NORM_TABLE_ENTRY_BYTES;
    const table = storageFrom(ctx, `gradNorm blocks ${g}`, entries);
    const values = group.members.reduce((n, i) => n + grads[i].size, 0);
    const params = uniformU32(ctx, `${partialsKernel.name} params ${g}`, [count, offset, 0, 0]);
    const cost: DispatchCost = {
      flops: 2 * values,
      bytesRead: 4 * values + table.size,
      bytesWritten: 4 * count,
    };
    dispatches.push(
      createDispatch(
        ctx,
        partialsKernel,
        [group.buffer, partials, params, table],
        foldedGrid(count, limit),
        [params, table],
        cost,
      ),
    );
    offset += count;
  });
  dispatches[0].owned.push(partials);
  dispatches.push(
    ...(await prepareReduceSumOfBuffer(
      ctx,
      { x: partials, out: sumOfSquares },
      { length: totalBlocks, gridLimit: opts.gridLimit },
    )),
  );

  if (opts.haltAfterNonFinite && !nonFiniteSteps)
    throw new RangeError('gradNorm: haltAfterNonFinite needs the nonFiniteSteps counter');
  const constants = nonFiniteSteps
    ? { COUNT_NON_FINITE: 1, ...(opts.haltAfterNonFinite ? { HALT_AFTER_NON_FINITE: 1 } : {}) }
    : undefined;
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
        norm.binding,
        clipScale.binding,
        params,
        nonFiniteSteps?.binding ?? ctx.placeholder('write'),
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
