/**
 * LayerNorm over the last dimension (`shaders/layernorm_forward.wgsl`,
 * `shaders/layernorm_backward.wgsl`), as torch.nn.LayerNorm with weight and bias. The
 * forward saves per-row mean and rstd; the backward uses them for dx and for the weight
 * and bias gradients (per-chunk partials, both sets summed by one layernorm_param_reduce).
 *
 * x is [..., D] viewed as [R, D]. ml-aim's trunk uses eps = 1e-6; ml-l3m's head 1e-5.
 */
import type { GpuCapabilities } from '../gpu/capabilities';
import type { GpuContext } from '../gpu/context';
import { createDispatch, flatGrid, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformBuffer, uniformU32 } from '../gpu/uniforms';
import { asRowsCols, dims, requireDistinct, requireSize } from './checks';
import { flatGridFor, flatKernel } from './flat';
import { layerNormParamPartialsShape } from './gradientPartials';
import { markDeferrable } from './partialsReduce';

/** ml-aim's LayerNorm eps. */
export const AIM_LAYERNORM_EPS = 1e-6;

const PARAM_TILE_COLS = 64;

export { layerNormParamPartialsShape } from './gradientPartials';

/**
 * 'subgroup': one subgroup per row, subgroupAdd reductions, no barriers
 * (layernorm_*_subgroup.wgsl); 'workgroup': one workgroup per row and shared-memory trees,
 * for adapters without subgroups. Both compute the same sums in the same two passes.
 */
export type LayerNormVariant = 'subgroup' | 'workgroup';

/** Invocations per workgroup of the subgroup variant (a multiple of every subgroup size). */
const SUBGROUP_WORKGROUP = 128;

/** The variant for an adapter: the subgroup one wherever `subgroups` exists. */
export function chooseLayerNormVariant(caps: GpuCapabilities): LayerNormVariant {
  return caps.subgroups ? 'subgroup' : 'workgroup';
}

/**
 * Rows per workgroup of the subgroup variant: one per subgroup at the adapter's smallest
 * subgroup size (larger subgroups take several rows each; any size is correct).
 */
export function layerNormSubgroupRows(
  caps: GpuCapabilities,
  workgroup: number = SUBGROUP_WORKGROUP,
): number {
  const lanes = caps.adapter.subgroupMinSize ?? 32;
  return Math.max(1, Math.floor(workgroup / lanes));
}

/**
 * Invocations per workgroup of input_and_param_grads: the parameter partials' 64 column lanes
 * × 4 row lanes (so twice the input gradient's rows per workgroup of the plain subgroup pass).
 */
const FUSED_WORKGROUP = 256;

/** Kernel constants and grid of the row kernels (forward and input gradient) of `variant`. */
function rowKernelPlan(
  ctx: GpuContext,
  variant: LayerNormVariant,
  rows: number,
  dim: number,
): { shaderSuffix: string; constants: Record<string, number>; grid: [number, number] } {
  if (variant === 'workgroup')
    return {
      shaderSuffix: '',
      constants: { THREADS: layerNormThreads(dim) },
      grid: flatGrid(ctx, rows),
    };
  ctx.requireForChoice('layerNorm (subgroup variant)', { features: ['subgroups'] });
  const perWorkgroup = layerNormSubgroupRows(ctx.choices);
  return {
    shaderSuffix: '_subgroup',
    constants: { WORKGROUP: SUBGROUP_WORKGROUP, ROWS_PER_WORKGROUP: perWorkgroup },
    grid: flatGrid(ctx, Math.ceil(rows / perWorkgroup)),
  };
}

/** Invocations per row: the power of two ≥ D, between 32 and 256. */
export function layerNormThreads(dim: number): number {
  let threads = 32;
  while (threads < dim && threads < 256) threads *= 2;
  return threads;
}

/**
 * Additions on the longest path of the kernels' row sums — what the f32 error bounds of the
 * tests scale with. 'workgroup': each invocation adds ⌈D/T⌉ values, then log2(T) tree
 * levels. 'subgroup': each lane adds ⌈D/L⌉ values, then subgroupAdd combines L partials in
 * an order the implementation picks (at most L − 1 additions deep), for the worst subgroup
 * size L between `lanes` (default: 4 to 128, every size WebGPU allows).
 */
export function layerNormReductionDepth(
  dim: number,
  variant: LayerNormVariant = 'workgroup',
  lanes: readonly [number, number] = [4, 128],
): number {
  if (variant === 'workgroup') {
    const threads = layerNormThreads(dim);
    return Math.ceil(dim / threads) + Math.log2(threads);
  }
  let depth = 0;
  for (let L = lanes[0]; L <= lanes[1]; L *= 2) depth = Math.max(depth, Math.ceil(dim / L) + L - 1);
  return depth;
}

function rowsAndDim(x: Tensor): { rows: number; dim: number } {
  const { rows, cols } = asRowsCols('layerNorm', x.shape);
  if (rows < 1 || cols < 1) throw new RangeError(`layerNorm: x ${dims(x.shape)} has no values`);
  return { rows, dim: cols };
}

export interface LayerNormOptions {
  eps?: number;
  /** Default: chooseLayerNormVariant(ctx.choices). */
  variant?: LayerNormVariant;
}

export interface LayerNormForwardTensors {
  /** [..., D], viewed as [R, D]. */
  x: Tensor<'f32'>;
  /** [D]. */
  weight: Tensor<'f32'>;
  /** [D]. */
  bias: Tensor<'f32'>;
  /** x's shape. */
  y: Tensor<'f32'>;
  /** [R]: the per-row statistics the backward reads. */
  mean: Tensor<'f32'>;
  rstd: Tensor<'f32'>;
}

/** y = LayerNorm(x)·weight + bias; mean and rstd receive the per-row statistics. */
export async function prepareLayerNormForward(
  ctx: GpuContext,
  { x, weight, bias, y, mean, rstd }: LayerNormForwardTensors,
  opts: LayerNormOptions = {},
): Promise<PreparedDispatch[]> {
  const { rows, dim } = rowsAndDim(x);
  requireSize('layerNorm', 'weight', weight, dim);
  requireSize('layerNorm', 'bias', bias, dim);
  requireSize('layerNorm', 'y', y, rows * dim, dims(x.shape));
  requireSize('layerNorm', 'mean', mean, rows);
  requireSize('layerNorm', 'rstd', rstd, rows);
  requireDistinct('layerNorm', { y, mean, rstd }, { x, weight, bias });
  const eps = opts.eps ?? AIM_LAYERNORM_EPS;
  if (!(eps > 0)) throw new RangeError(`layerNorm: eps must be > 0, got ${eps}`);
  const plan = rowKernelPlan(ctx, opts.variant ?? chooseLayerNormVariant(ctx.choices), rows, dim);
  const kernel = await ctx.kernels.get({
    shader: `layernorm_forward${plan.shaderSuffix}`,
    constants: plan.constants,
  });
  const params = uniformBuffer(ctx, `${kernel.name} params`, [
    ['u32', rows],
    ['u32', dim],
    ['f32', eps],
  ]);
  return [
    createDispatch(
      ctx,
      kernel,
      [x.binding, weight.binding, bias.binding, y.binding, mean.binding, rstd.binding, params],
      plan.grid,
      [params],
      // Mean, variance, normalise, scale, shift: ~8 operations a value.
      {
        flops: 8 * rows * dim,
        bytesRead: 4 * (rows * dim + 2 * dim),
        bytesWritten: 4 * (rows * dim + 2 * rows),
      },
    ),
  ];
}

export interface LayerNormBackwardTensors {
  dy: Tensor<'f32'>;
  /** The forward input. */
  x: Tensor<'f32'>;
  weight: Tensor<'f32'>;
  /** Saved by the forward. */
  mean: Tensor<'f32'>;
  rstd: Tensor<'f32'>;
  dx: Tensor<'f32'>;
  /** Leave both out to skip the parameter gradients (frozen norm). */
  dweight?: Tensor<'f32'>;
  dbias?: Tensor<'f32'>;
  /**
   * Scratch for the parameter-gradient partials (each at least layerNormParamPartialsShape
   * values), a scratch of this LayerNorm's own: its reduce is then marked deferrable
   * (partialsReduce.ts) so a backward can run it with every other one in one pass. Without
   * them the dispatches allocate and own their partials.
   */
  partials?: { weight: Tensor<'f32'>; bias: Tensor<'f32'> };
}

export interface LayerNormBackwardOptions {
  /** dx += … instead of dx = … (the residual stream's gradient is already there). */
  accumulateInput?: boolean;
  /** dweight += …, dbias += … (gradient accumulation over micro-batches). */
  accumulateParams?: boolean;
  /** The input gradient's variant; default: chooseLayerNormVariant(ctx.choices). */
  variant?: LayerNormVariant;
}

/**
 * dx, and (if given) dweight and dbias. Returns the dispatches in order: the input gradient
 * and the per-chunk parameter partials (one dispatch, input_and_param_grads, in the subgroup
 * variant; input_grad then param_grad_partials in the workgroup one), then
 * layernorm_param_reduce, which sums both partial sets (deferrable when `partials` is given).
 */
export async function prepareLayerNormBackward(
  ctx: GpuContext,
  t: LayerNormBackwardTensors,
  opts: LayerNormBackwardOptions = {},
): Promise<PreparedDispatch[]> {
  const { rows, dim } = rowsAndDim(t.x);
  requireSize('layerNorm', 'dy', t.dy, rows * dim, dims(t.x.shape));
  requireSize('layerNorm', 'dx', t.dx, rows * dim, dims(t.x.shape));
  requireSize('layerNorm', 'weight', t.weight, dim);
  requireSize('layerNorm', 'mean', t.mean, rows);
  requireSize('layerNorm', 'rstd', t.rstd, rows);
  if (Boolean(t.dweight) !== Boolean(t.dbias))
    throw new RangeError('layerNorm: give both dweight and dbias, or neither');
  if (t.dweight) requireSize('layerNorm', 'dweight', t.dweight, dim);
  if (t.dbias) requireSize('layerNorm', 'dbias', t.dbias, dim);
  requireDistinct(
    'layerNorm',
    { dx: t.dx, dweight: t.dweight, dbias: t.dbias },
    { dy: t.dy, x: t.x, weight: t.weight, mean: t.mean, rstd: t.rstd },
  );

  const variant = opts.variant ?? chooseLayerNormVariant(ctx.choices);
  const inputCost = {
    flops: 10 * rows * dim,
    bytesRead: 4 * ((opts.accumulateInput ? 3 : 2) * rows * dim + 2 * rows + dim),
    bytesWritten: 4 * rows * dim,
  };
  const accumulateInput: Record<string, number> = opts.accumulateInput ? { ACCUMULATE: 1 } : {};
  const common = [t.dy.binding, t.x.binding, t.mean.binding, t.rstd.binding];
  if (!t.dweight || !t.dbias) {
    const plan = rowKernelPlan(ctx, variant, rows, dim);
    const inputKernel = await ctx.kernels.get({
      shader: `layernorm_backward${plan.shaderSuffix}`,
      entryPoint: 'input_grad',
      constants: { ...plan.constants, ...accumulateInput },
    });
    const params = uniformU32(ctx, `${inputKernel.name} params`, [rows, dim]);
    return [
      createDispatch(
        ctx,
        inputKernel,
        [...common, params, t.weight.binding, t.dx.binding],
        plan.grid,
        [params],
        inputCost,
      ),
    ];
  }

  const [chunks] = layerNormParamPartialsShape(rows, dim);
  if (t.partials) {
    requireAtLeast('weight partials', t.partials.weight, chunks * dim);
    requireAtLeast('bias partials', t.partials.bias, chunks * dim);
    requireDistinct(
      'layerNorm',
      { 'weight partials': t.partials.weight, 'bias partials': t.partials.bias },
      { dy: t.dy, x: t.x, dx: t.dx, dweight: t.dweight, dbias: t.dbias },
    );
  }
  const weightPartials =
    t.partials?.weight ?? Tensor.empty(ctx, [chunks, dim], 'f32', 'layerNorm dweight partials');
  const biasPartials =
    t.partials?.bias ?? Tensor.empty(ctx, [chunks, dim], 'f32', 'layerNorm dbias partials');
  const ownedPartials = t.partials ? [] : [weightPartials.buffer, biasPartials.buffer];
  const colTiles = Math.ceil(dim / PARAM_TILE_COLS);
  const partialsCost = {
    flops: 4 * rows * dim,
    bytesRead: 4 * (2 * rows * dim + 2 * rows),
    bytesWritten: 4 * 2 * chunks * dim,
  };
  const dispatches: PreparedDispatch[] = [];
  if (variant === 'subgroup') {
    // The input gradient and the parameter partials in one dispatch (input_and_param_grads).
    ctx.requireForChoice('layerNorm (subgroup variant)', { features: ['subgroups'] });
    const perWorkgroup = layerNormSubgroupRows(ctx.choices, FUSED_WORKGROUP);
    const rowGroups = Math.ceil(rows / perWorkgroup);
    const kernel = await ctx.kernels.get({
      shader: 'layernorm_backward_subgroup',
      entryPoint: 'input_and_param_grads',
      constants: {
        WORKGROUP: FUSED_WORKGROUP,
        ROWS_PER_WORKGROUP: perWorkgroup,
        ...accumulateInput,
      },
    });
    const params = uniformU32(ctx, `${kernel.name} params`, [rows, dim, rowGroups, colTiles]);
    dispatches.push(
      createDispatch(
        ctx,
        kernel,
        [
          ...common,
          params,
          t.weight.binding,
          t.dx.binding,
          weightPartials.binding,
          biasPartials.binding,
        ],
        flatGrid(ctx, rowGroups + colTiles * chunks),
        [params, ...ownedPartials],
        {
          flops: inputCost.flops + partialsCost.flops,
          // dy, x and the statistics are read by both halves.
          bytesRead: inputCost.bytesRead + partialsCost.bytesRead,
          bytesWritten: inputCost.bytesWritten + partialsCost.bytesWritten,
        },
      ),
    );
  } else {
    const plan = rowKernelPlan(ctx, variant, rows, dim);
    const inputKernel = await ctx.kernels.get({
      shader: 'layernorm_backward',
      entryPoint: 'input_grad',
      constants: { ...plan.constants, ...accumulateInput },
    });
    const params = uniformU32(ctx, `${inputKernel.name} params`, [rows, dim]);
    const paramKernel = await ctx.kernels.get({
      shader: 'layernorm_backward',
      entryPoint: 'param_grad_partials',
    });
    const paramParams = uniformU32(ctx, `${paramKernel.name} params`, [rows, dim]);
    dispatches.push(
      createDispatch(
        ctx,
        inputKernel,
        [...common, params, t.weight.binding, t.dx.binding],
        plan.grid,
        [params],
        inputCost,
      ),
      createDispatch(
        ctx,
        paramKernel,
        [...common, paramParams, weightPartials.binding, biasPartials.binding],
        [colTiles, chunks],
        [paramParams, ...ownedPartials],
        partialsCost,
      ),
    );
  }
  // Both partial sets summed over the chunks in one dispatch (layernorm_param_reduce.wgsl).
  const reduceKernel = await flatKernel(ctx, {
    shader: 'layernorm_param_reduce',
    constants: opts.accumulateParams ? { ACCUMULATE: 1 } : {},
  });
  const reduceParams = uniformU32(ctx, `${reduceKernel.name} params`, [chunks, dim]);
  const reduce = createDispatch(
    ctx,
    reduceKernel,
    [
      weightPartials.binding,
      biasPartials.binding,
      t.dweight.binding,
      t.dbias.binding,
      reduceParams,
    ],
    flatGridFor(ctx, dim),
    [reduceParams],
    {
      flops: 2 * chunks * dim,
      bytesRead: 4 * (2 * chunks * dim + (opts.accumulateParams ? 2 * dim : 0)),
      bytesWritten: 4 * 2 * dim,
    },
  );
  const accumulate = opts.accumulateParams ?? false;
  const sum = (partials: Tensor<'f32'>, out: Tensor<'f32'>) => ({
    partials,
    out,
    count: chunks,
    stride: dim,
    length: dim,
    accumulate,
  });
  dispatches.push(
    t.partials
      ? markDeferrable(reduce, [sum(weightPartials, t.dweight), sum(biasPartials, t.dbias)])
      : reduce,
  );
  return dispatches;
}

function requireAtLeast(what: string, t: Tensor<'f32'>, values: number): void {
  if (t.size < values)
    throw new RangeError(
      `layerNorm: ${what} ${dims(t.shape)} hold fewer than the ${values} values needed`,
    );
}

/** Runs the forward once, allocating y, mean and rstd. */
export async function layerNormForward(
  ctx: GpuContext,
  { x, weight, bias }: Pick<LayerNormForwardTensors, 'x' | 'weight' | 'bias'>,
  opts: LayerNormOptions = {},
): Promise<{ y: Tensor<'f32'>; mean: Tensor<'f32'>; rstd: Tensor<'f32'> }> {
  const { rows } = rowsAndDim(x);
  const y = Tensor.empty(ctx, x.shape, 'f32', 'layerNorm y');
  const mean = Tensor.empty(ctx, [rows], 'f32', 'layerNorm mean');
  const rstd = Tensor.empty(ctx, [rows], 'f32', 'layerNorm rstd');
  await runOnce(ctx, await prepareLayerNormForward(ctx, { x, weight, bias, y, mean, rstd }, opts));
  return { y, mean, rstd };
}

/** Runs the backward once, allocating dx, dweight and dbias. */
export async function layerNormBackward(
  ctx: GpuContext,
  t: Omit<LayerNormBackwardTensors, 'dx' | 'dweight' | 'dbias'>,
  opts: LayerNormBackwardOptions = {},
): Promise<{ dx: Tensor<'f32'>; dweight: Tensor<'f32'>; dbias: Tensor<'f32'> }> {
  const { dim } = rowsAndDim(t.x);
  const dx = Tensor.empty(ctx, t.x.shape, 'f32', 'layerNorm dx');
  const dweight = Tensor.empty(ctx, [dim], 'f32', 'layerNorm dweight');
  const dbias = Tensor.empty(ctx, [dim], 'f32', 'layerNorm dbias');
  await runOnce(ctx, await prepareLayerNormBackward(ctx, { ...t, dx, dweight, dbias }, opts));
  return { dx, dweight, dbias };
}
