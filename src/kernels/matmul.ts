/**
 * f32 matrix multiply on the GPU (`shaders/matmul.wgsl`): C = epilogue(op(A)·op(B)),
 * batched, with optional transposes and fused epilogues (bias, GELU and its gradient,
 * residual add, accumulate). See the shader's header for the exact order of the epilogue.
 *
 * Shapes are given logically: op(A) is [M,K] (stored [K,M] when transA), op(B) is [K,N]
 * (stored [N,K] when transB, i.e. a PyTorch Linear weight). A leading batch dimension on A
 * (and optionally B) batches the product; a 2-D B is shared by the whole batch.
 */
import type { GpuContext } from '../gpu/context';
import type { Kernel } from '../gpu/kernels';
import { createDispatch, runOnce, type DispatchCost, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import type { MatmulShape } from '../reference/matmul';
import { dims, requireDistinct, requireShape, requireSize } from './checks';
import {
  MATMUL_TILES,
  matmulPlan,
  matmulStageBytes,
  matmulTileConstants,
  splitKPartialsShape,
  type MatmulStages,
  type MatmulTile,
} from './matmulPlan';
import { prepareSplitKReduce } from './matmulSplitK';
import { markDeferrable } from './partialsReduce';

export type { MatmulShape } from '../reference/matmul';
export {
  chooseMatmulStages,
  chooseMatmulTile,
  MATMUL_TILES,
  matmulPlan,
  matmulScratchShape,
  matmulSplitKCapacity,
  type MatmulStages,
  type MatmulTile,
} from './matmulPlan';

export interface MatmulTensors {
  /** op(A) is [M, K] (stored [K, M] with transA), optionally with a leading batch dimension. */
  a: Tensor<'f32'>;
  /** op(B) is [K, N] (stored [N, K] with transB); 2-D B is shared by every batch entry. */
  b: Tensor<'f32'>;
  /** [M, N], or [batch, M, N] when A is 3-D. */
  c: Tensor<'f32'>;
  /** [N]: added to every row. */
  bias?: Tensor<'f32'>;
  /**
   * C's shape. With activation 'gelu' it receives the pre-activation v; with 'gelu-grad' it
   * holds the forward pre-activation.
   */
  aux?: Tensor<'f32'>;
  /** C's shape, added after the activation. Must not be C itself. */
  residual?: Tensor<'f32'>;
  /**
   * Split-K scratch shared by the split products of a step (at least the values of
   * `matmulScratchShape`); a split product given none allocates and owns its own.
   */
  partials?: Tensor<'f32'>;
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** 'gelu': C = gelu(v). 'gelu-grad': C = v · gelu'(aux). Both need `aux`. */
  activation?: 'none' | 'gelu' | 'gelu-grad';
  /** C += result instead of C = result (gradient accumulation). */
  accumulate?: boolean;
  /** Tile configuration; chosen from the adapter and the shape when absent. */
  tile?: MatmulTile;
  /** Shared-memory stages (2: double-buffered); chosen from the adapter when absent. */
  stages?: MatmulStages;
  /**
   * Split K over several workgroups (matmulSplitK.ts) — `true`: when the output tiles would
   * not fill the adapter (chooseSplitK; the weight gradients); a number: into that many
   * K-ranges at most (tests). A split adds a reduce dispatch and needs a partials buffer.
   */
  splitK?: boolean | number;
  /**
   * Mark the split product's reduce as deferrable (partialsReduce.ts deferReductions): the
   * caller promises `partials` is this product's own scratch, which nothing else writes
   * before the end of its dispatch list.
   */
  deferReduce?: boolean;
}

/**
 * A kernel built on matmul_tile.wgsl (matmul.wgsl, matmul_grouped.wgsl) specialised for `tile`
 * and `stages`; two stages are refused, with both named, on a device without the workgroup
 * memory for them (a choice made as on another adapter, `choicesAs`).
 */
export function matmulTileKernel(
  ctx: GpuContext,
  shader: 'matmul' | 'matmul_grouped',
  tile: MatmulTile,
  stages: MatmulStages,
  constants?: Record<string, number>,
): Promise<Kernel> {
  if (stages === 2)
    ctx.requireForChoice(shader, {
      limits: { maxComputeWorkgroupStorageSize: 2 * matmulStageBytes(tile) },
    });
  return ctx.kernels.get({ shader, constants, specialize: matmulTileConstants(tile, stages) });
}

export function matmulShape(
  a: readonly number[],
  b: readonly number[],
  opts: Pick<MatmulOptions, 'transA' | 'transB'> = {},
): MatmulShape {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  if (a.length < 2 || a.length > 3 || b.length < 2 || b.length > 3) {
    throw new RangeError(`matmul: A ${dims(a)} and B ${dims(b)} must be 2-D or 3-D`);
  }
  const batch = a.length === 3 ? a[0] : 1;
  const [a0, a1] = a.slice(-2);
  const [b0, b1] = b.slice(-2);
  const [m, k] = transA ? [a1, a0] : [a0, a1];
  const [kb, n] = transB ? [b1, b0] : [b0, b1];
  if (k !== kb) {
    throw new RangeError(
      `matmul: inner dimensions differ, ${transA ? 'Aᵀ' : 'A'} ${dims(a)} · ${transB ? 'Bᵀ' : 'B'} ${dims(b)}`,
    );
  }
  if (b.length === 3 && b[0] !== batch) {
    throw new RangeError(`matmul: batch of B (${b[0]}) differs from batch of A (${batch})`);
  }
  if (m < 1 || n < 1 || k < 1 || batch < 1)
    throw new RangeError('matmul: every dimension must be ≥ 1');
  return { batch, m, n, k, transA, transB, broadcastB: b.length === 2 };
}

export function matmulOutputShape(s: MatmulShape, batched: boolean): number[] {
  return batched ? [s.batch, s.m, s.n] : [s.m, s.n];
}

/**
 * 2·M·N·K FLOPs per batch entry (the epilogue's few per output are not counted); reads A, B
 * (once if shared), the epilogue's operands and C when accumulating; writes C (and aux with gelu).
 */
export function matmulCost(
  s: MatmulShape,
  t: Pick<MatmulTensors, 'bias' | 'aux' | 'residual'>,
  opts: Pick<MatmulOptions, 'activation' | 'accumulate'>,
): DispatchCost {
  const out = s.batch * s.m * s.n;
  const activation = opts.activation ?? 'none';
  const readElements =
    s.batch * s.m * s.k +
    (s.broadcastB ? 1 : s.batch) * s.k * s.n +
    (t.bias ? s.n : 0) +
    (t.residual ? out : 0) +
    (activation === 'gelu-grad' ? out : 0) +
    (opts.accumulate ? out : 0);
  const writtenElements = out + (activation === 'gelu' ? out : 0);
  return {
    flops: 2 * s.m * s.n * s.k * s.batch,
    bytesRead: 4 * readElements,
    bytesWritten: 4 * writtenElements,
  };
}

/** C = epilogue(op(A)·op(B)) (see the header); one dispatch, or two when K is split. */
export async function prepareMatmul(
  ctx: GpuContext,
  t: MatmulTensors,
  opts: MatmulOptions = {},
): Promise<PreparedDispatch[]> {
  const { a, b, c } = t;
  const s = matmulShape(a.shape, b.shape, opts);
  const outShape = matmulOutputShape(s, a.shape.length === 3);
  requireShape('matmul', 'c', c, outShape);
  const activation = opts.activation ?? 'none';
  const outSize = s.batch * s.m * s.n;
  if (t.bias) requireSize('matmul', 'bias', t.bias, s.n);
  if (t.residual) requireSize('matmul', 'residual', t.residual, outSize, dims(outShape));
  if (activation !== 'none' && !t.aux)
    throw new RangeError(`matmul: activation '${activation}' needs an aux tensor`);
  if (t.aux) requireSize('matmul', 'aux', t.aux, outSize, dims(outShape));
  requireDistinct('matmul', { c }, { a, b, residual: t.residual, aux: t.aux });
  if (t.partials)
    requireDistinct(
      'matmul',
      { partials: t.partials },
      { a, b, c, residual: t.residual, aux: t.aux },
    );

  const plan = matmulPlan(ctx.choices, s, opts);
  const tile = MATMUL_TILES[plan.tile];
  const { split } = plan;
  const splitting = split.splits > 1;
  const constants: Record<string, number> = {};
  if (s.transA) constants.TRANS_A = 1;
  if (s.transB) constants.TRANS_B = 1;
  if (splitting) constants.SPLIT_K = 1;
  else {
    if (t.bias) constants.HAS_BIAS = 1;
    if (activation !== 'none') constants.ACTIVATION = activation === 'gelu' ? 1 : 2;
    if (t.residual) constants.ADD_RESIDUAL = 1;
    if (opts.accumulate) constants.ACCUMULATE = 1;
  }
  // No bounds checks when every tile is whole: M, N multiples of the tile, each K-range of TILE_K.
  const tileK = tile.specialize.TILE_K;
  if (
    s.m % tile.tile === 0 &&
    s.n % tile.tile === 0 &&
    s.k % tileK === 0 &&
    split.kChunk % tileK === 0
  )
    constants.ALIGNED = 1;
  const kernel = await matmulTileKernel(ctx, 'matmul', plan.tile, plan.stages, constants);

  const uniform = uniformU32(ctx, `${kernel.name} dims`, [
    s.m,
    s.n,
    s.k,
    s.batch,
    s.m * s.k,
    s.broadcastB ? 0 : s.k * s.n,
    s.m * s.n,
    split.kChunk,
  ]);
  const read = ctx.placeholder('read');
  const write = ctx.placeholder('write');
  const grid: [number, number, number] = [
    Math.ceil(s.n / tile.tile),
    Math.ceil(s.m / tile.tile),
    s.batch * split.splits,
  ];
  if (!splitting) {
    return [
      createDispatch(
        ctx,
        kernel,
        [
          a.binding,
          b.binding,
          c.binding,
          uniform,
          t.bias?.binding ?? read,
          t.residual?.binding ?? read,
          t.aux?.binding ?? write,
        ],
        grid,
        [uniform],
        matmulCost(s, t, opts),
      ),
    ];
  }
  const partialsShape = splitKPartialsShape(s, split);
  const owned = !t.partials;
  const partials = t.partials ?? Tensor.empty(ctx, partialsShape, 'f32', 'matmul split-K partials');
  if (partials.size < partialsShape.reduce((x, y) => x * y, 1))
    throw new RangeError(
      `matmul: partials ${dims(partials.shape)} cannot hold the split product's ${dims(partialsShape)}`,
    );
  const partialCost = matmulCost(s, {}, {});
  partialCost.bytesWritten = 4 * partialsShape.reduce((x, y) => x * y, 1);
  return [
    createDispatch(
      ctx,
      kernel,
      [a.binding, b.binding, partials.binding, uniform, read, read, write],
      grid,
      owned ? [uniform, partials.buffer] : [uniform],
      partialCost,
    ),
    ...(await prepareSplitKReduce(ctx, { ...t, partials }, s, split, opts)).map((reduce) =>
      deferrableReduce(reduce, { ...t, partials }, s, split, opts, owned),
    ),
  ];
}

/**
 * Marks a split product's reduce as deferrable (partialsReduce.ts) when it is a plain sum:
 * partials given by the caller (a scratch of this product's own, which the caller vouches for
 * with deferReduce), one batch entry, no epilogue but accumulate — the weight gradients.
 */
export function deferrableReduce(
  reduce: PreparedDispatch,
  t: MatmulTensors & { partials: Tensor<'f32'> },
  s: MatmulShape,
  split: { splits: number },
  opts: MatmulOptions,
  ownedPartials: boolean,
): PreparedDispatch {
  const epilogue = t.bias || t.residual || t.aux || (opts.activation ?? 'none') !== 'none';
  if (!opts.deferReduce || ownedPartials || epilogue || s.batch !== 1) return reduce;
  return markDeferrable(reduce, [
    {
      partials: t.partials,
      out: t.c,
      count: split.splits,
      stride: s.m * s.n,
      length: s.m * s.n,
      accumulate: opts.accumulate ?? false,
    },
  ]);
}

/** C = epilogue(op(A)·op(B)), allocating C unless given (it must be given to accumulate). */
export async function matmul(
  ctx: GpuContext,
  t: Omit<MatmulTensors, 'c'> & { c?: Tensor<'f32'> },
  opts: MatmulOptions = {},
): Promise<Tensor<'f32'>> {
  const s = matmulShape(t.a.shape, t.b.shape, opts);
  if (opts.accumulate && !t.c) throw new RangeError('matmul: accumulate needs an existing output');
  const c =
    t.c ?? Tensor.empty(ctx, matmulOutputShape(s, t.a.shape.length === 3), 'f32', 'matmul C');
  await runOnce(ctx, await prepareMatmul(ctx, { ...t, c }, opts));
  return c;
}
