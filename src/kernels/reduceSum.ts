/**
 * Sum of an f32 vector of any length on the GPU (`shaders/reduce_sum.wgsl`), as a chain of
 * tree-reduction passes: each pass sums blocks of 1024 values, so n values take
 * ⌈log_1024 n⌉ passes (two up to 1 M values, three up to 1 G) and the result is a balanced
 * summation tree of depth 10 per pass — error ≤ γ_{10·passes}·Σ|x|, close to log2(n)·u·Σ|x|.
 *
 * The same pass also writes sums of squares (gradient norms) into a slice of a larger
 * buffer, and can divide the final sum by a count held on the GPU (mean losses).
 */
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  foldedGrid,
  runOnce,
  type BindingResource,
  type PreparedDispatch,
} from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernels';
import { Tensor } from '../gpu/tensor';
import { uniformBuffer } from '../gpu/uniforms';
import { requireDistinct, requireDtype, requireOneValue } from './checks';

/** Values summed by one workgroup of one pass (256 invocations × 4; matches BLOCK in the shader). */
export const REDUCE_BLOCK = 1024;

/** Depth of the summation tree of one pass: log2(1024). */
export const REDUCE_DEPTH_PER_PASS = 10;

/** Lengths of the vectors each pass writes: n → ⌈n/1024⌉ → … → 1 (at least one pass). */
export function reducePassLengths(n: number): number[] {
  const lengths: number[] = [];
  let length = n;
  do {
    length = Math.max(1, Math.ceil(length / REDUCE_BLOCK));
    lengths.push(length);
  } while (length > 1);
  return lengths;
}

/**
 * Raw buffers or bindings (a tensor's `binding`), so that callers can reduce slices of their
 * own scratch buffers.
 */
export interface BlockSumBuffers {
  x: BindingResource;
  out: BindingResource;
  /** Every block sum is divided by divideBy[0] (a count computed on the GPU). */
  divideBy?: BindingResource;
}

/** Bytes a binding covers (a whole buffer's size, or the binding's size). */
function boundBytes(b: BindingResource): number {
  return 'buffer' in b ? (b.size ?? b.buffer.size - (b.offset ?? 0)) : b.size;
}

/** The buffer behind a binding (for the distinctness check). */
function bufferOf(b: BindingResource): GPUBuffer {
  return 'buffer' in b ? b.buffer : b;
}

export interface BlockSumOptions {
  /** Values of x summed (the first `length`). */
  length: number;
  /** Element of `out` that receives the first block sum. Default 0. */
  outOffset?: number;
  /** Sum squares instead of values. */
  square?: boolean;
  /** Multiplies every block sum (before the division). Default 1. */
  scale?: number;
  /** Workgroups per grid dimension before folding (tests lower it; default: the device's). */
  gridLimit?: number;
}

/**
 * One pass: out[outOffset + w] = f-sum of x[w·1024 … w·1024 + 1023] for w < ⌈length/1024⌉
 * (one block, of zeros, when length = 0).
 */
export async function prepareBlockSums(
  ctx: GpuContext,
  { x, out, divideBy }: BlockSumBuffers,
  opts: BlockSumOptions,
): Promise<PreparedDispatch[]> {
  requireDistinct(
    'reduceSum',
    { out: bufferOf(out) },
    { x: bufferOf(x), divideBy: divideBy && bufferOf(divideBy) },
  );
  const n = opts.length;
  const outOffset = opts.outOffset ?? 0;
  const blocks = Math.max(1, Math.ceil(n / REDUCE_BLOCK));
  if ((outOffset + blocks) * 4 > boundBytes(out)) {
    throw new RangeError(
      `reduceSum: ${blocks} block sums at offset ${outOffset} do not fit in a ${boundBytes(out)}-byte output`,
    );
  }
  const constants: Record<string, number> = {};
  if (opts.square) constants.SQUARE = 1;
  if (divideBy) constants.HAS_DIVISOR = 1;
  const kernel: Kernel = await ctx.kernels.get({ shader: 'reduce_sum', constants });
  const params = uniformBuffer(ctx, `${kernel.name} params`, [
    ['u32', n],
    ['u32', blocks],
    ['u32', outOffset],
    ['f32', opts.scale ?? 1],
  ]);
  const limit = opts.gridLimit ?? ctx.choices.limits.maxComputeWorkgroupsPerDimension;
  return [
    createDispatch(
      ctx,
      kernel,
      [x, out, params, divideBy ?? ctx.placeholder('read')],
      foldedGrid(blocks, limit),
      [params],
      {
        flops: (opts.square ? 2 : 1) * n,
        bytesRead: 4 * (n + (divideBy ? 1 : 0)),
        bytesWritten: 4 * blocks,
      },
    ),
  ];
}

export interface ReduceSumTensors {
  x: Tensor<'f32'>;
  out: Tensor<'f32'>;
  /** out = Σ / divideBy[0] (applied once, in the last pass). */
  divideBy?: Tensor<'f32'>;
}

export interface ReduceSumOptions {
  /** Sum of squares instead of the sum. */
  square?: boolean;
  /** out = scale · Σ (applied once, in the last pass). */
  scale?: number;
  /** Element of `out` that receives the sum. Default 0. */
  outIndex?: number;
  /** Workgroups per grid dimension before folding (tests lower it to cover the 2-D grid). */
  gridLimit?: number;
}

/**
 * Dispatches (in order) that write scale·Σx (or Σx², or Σx / divideBy[0]) into
 * out[outIndex]. Scratch buffers for the intermediate passes are owned by the dispatches.
 */
export async function prepareReduceSum(
  ctx: GpuContext,
  { x, out, divideBy }: ReduceSumTensors,
  opts: ReduceSumOptions = {},
): Promise<PreparedDispatch[]> {
  const outIndex = opts.outIndex ?? 0;
  if (!Number.isInteger(outIndex) || outIndex < 0 || outIndex >= out.size) {
    throw new RangeError(`reduceSum: outIndex ${outIndex} outside the ${out.size}-value output`);
  }
  requireDtype('reduceSum', 'x', x, 'f32');
  requireDtype('reduceSum', 'out', out, 'f32');
  requireDistinct('reduceSum', { out }, { x, divideBy });
  requireOneValue('reduceSum', 'divideBy', divideBy);
  return prepareReduceSumOfBuffer(
    ctx,
    { x: x.binding, out: out.binding, divideBy: divideBy?.binding },
    { ...opts, length: x.size, outOffset: outIndex },
  );
}

/**
 * `prepareReduceSum` on raw buffers: the first `length` values of x into out[outOffset] (for
 * callers that reduce their own scratch buffers, like the gradient norm).
 */
export async function prepareReduceSumOfBuffer(
  ctx: GpuContext,
  { x, out, divideBy }: BlockSumBuffers,
  opts: BlockSumOptions,
): Promise<PreparedDispatch[]> {
  const lengths = reducePassLengths(opts.length);
  const dispatches: PreparedDispatch[] = [];
  let input: BindingResource = x;
  let length = opts.length;
  for (let pass = 0; pass < lengths.length; pass++) {
    const last = pass === lengths.length - 1;
    const scratch = last
      ? undefined
      : ctx.device.createBuffer({
          label: `reduceSum pass ${pass} partials [${lengths[pass]}]`,
          size: lengths[pass] * 4,
          usage: GPUBufferUsage.STORAGE,
        });
    const [dispatch] = await prepareBlockSums(
      ctx,
      { x: input, out: scratch ?? out, divideBy: last ? divideBy : undefined },
      {
        length,
        outOffset: last ? opts.outOffset : 0,
        // Squares only in the first pass; the later passes add partial sums.
        square: pass === 0 && opts.square,
        scale: last ? opts.scale : undefined,
        gridLimit: opts.gridLimit,
      },
    );
    if (scratch) {
      dispatch.owned.push(scratch);
      input = scratch;
    }
    dispatches.push(dispatch);
    length = lengths[pass];
  }
  return dispatches;
}

/** Σx (or Σx² / scaled / divided, see the options) as a new one-value tensor. */
export async function reduceSum(
  ctx: GpuContext,
  t: Omit<ReduceSumTensors, 'out'>,
  opts: Omit<ReduceSumOptions, 'outIndex'> = {},
): Promise<Tensor<'f32'>> {
  const out = Tensor.empty(ctx, [1], 'f32', 'reduceSum out');
  await runOnce(ctx, await prepareReduceSum(ctx, { ...t, out }, opts));
  return out;
}
