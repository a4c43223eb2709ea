/**
 * Two independent matrix products that share their left operand in one dispatch
 * (`shaders/matmul_grouped.wgsl`): a Linear layer's input gradient dX = dY·W and weight
 * gradient dW = dYᵀ·X both read dY and nothing else of each other, and the backward used to
 * launch them one after the other. Grouped, a block's backward launches four matmuls instead
 * of eight.
 *
 * Each problem is planned exactly as `prepareMatmul` plans it alone (matmulPlan.ts: its
 * split-K ranges), and the kernel sums each output in the same order from the same +0.0, so
 * every C — and every split problem's partials, reduced afterwards by the same reduce (or the
 * backward's one deferred partials_reduce pass) — has the bits the two separate dispatches
 * give. Only the workgroup geometry is the group's: one tile configuration for both problems
 * (`groupedMatmulTile`), which changes no sum.
 *
 * What the backward needs, and no more: 2-D operands, transposes, the GELU-gradient and
 * accumulate epilogues, split-K. Bias, residual and the forward GELU stay `prepareMatmul`'s.
 */
import type { GpuCapabilities } from '../gpu/capabilities';
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  foldedGrid,
  runOnce,
  type DispatchCost,
  type PreparedDispatch,
} from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import type { MatmulShape } from '../reference/matmul';
import { dims, requireDistinct, requireShape } from './checks';
import {
  deferrableReduce,
  matmulCost,
  matmulShape,
  matmulTileKernel,
  type MatmulOptions,
} from './matmul';
import {
  chooseMatmulStages,
  chooseMatmulTile,
  MATMUL_TILES,
  matmulPlan,
  SPLIT_K_MIN_WORKGROUPS,
  splitKPartialsShape,
  type MatmulStages,
  type MatmulTile,
  type SplitK,
} from './matmulPlan';
import { prepareSplitKReduce } from './matmulSplitK';

/** One product of a group: C = epilogue(op(A)·op(B)) with the group's A. */
export interface GroupedMatmulProblem {
  /** op(B) is [K, N] (stored [N, K] with transB). */
  b: Tensor<'f32'>;
  /** [M, N]. */
  c: Tensor<'f32'>;
  /** With 'gelu-grad': the forward pre-activation, C's shape. */
  aux?: Tensor<'f32'>;
  /** Split-K scratch, as MatmulTensors.partials (a split problem given none owns its own). */
  partials?: Tensor<'f32'>;
  /**
   * As prepareMatmul's options; `tile` is the tile this problem's own plan (its split) is
   * made for, as if it ran alone — the dispatch's tile is the group's.
   */
  opts?: Pick<
    MatmulOptions,
    'transA' | 'transB' | 'activation' | 'accumulate' | 'tile' | 'splitK' | 'deferReduce'
  >;
}

export interface GroupedMatmulOptions {
  /** The dispatch's tile configuration; `groupedMatmulTile` when absent. */
  tile?: MatmulTile;
  /** Shared-memory stages; chosen from the adapter's workgroup memory when absent. */
  stages?: MatmulStages;
}

/** Per-problem flags of the kernel (matmul_grouped.wgsl). */
const FLAG = { transA: 1, transB: 2, geluGrad: 4, accumulate: 8, splitK: 16 } as const;

/** A problem's shape, its own plan's split, and its workgroups under a tile of `tile`. */
interface PlannedProblem {
  s: MatmulShape;
  split: SplitK;
}

function tilesOf(s: MatmulShape, tile: number): number {
  return Math.ceil(s.m / tile) * Math.ceil(s.n / tile);
}

/**
 * The group's tile: the one the problem with the largest output would choose alone (the input
 * gradient's, which chooseMatmulTile sizes for the GPU; the weight gradient's split-K already
 * fills it); the small tile when the large one would leave a non-fallback GPU's
 * SPLIT_K_MIN_WORKGROUPS compute units without a workgroup. Any tile gives the same bits.
 */
export function groupedMatmulTile(
  caps: GpuCapabilities,
  problems: readonly { s: MatmulShape; split: SplitK }[],
): MatmulTile {
  const largest = problems.reduce((x, y) => (y.s.m * y.s.n > x.s.m * x.s.n ? y : x));
  const tile = chooseMatmulTile(caps, largest.s);
  if (tile === 'large' && !caps.adapter.isFallbackAdapter) {
    const size = MATMUL_TILES.large.tile;
    const workgroups = problems.reduce((n, p) => n + tilesOf(p.s, size) * p.split.splits, 0);
    if (workgroups < SPLIT_K_MIN_WORKGROUPS) return 'small';
  }
  return tile;
}

function checkProblem(a: Tensor<'f32'>, p: GroupedMatmulProblem, i: number): MatmulShape {
  const op = `groupedMatmul: problem ${i}`;
  if (a.shape.length !== 2 || p.b.shape.length !== 2)
    throw new RangeError(`${op}: A ${dims(a.shape)} and B ${dims(p.b.shape)} must be 2-D`);
  let s: MatmulShape;
  try {
    s = matmulShape(a.shape, p.b.shape, p.opts);
  } catch (error) {
    throw new RangeError(`${op}: ${(error as Error).message}`);
  }
  requireShape(op, 'c', p.c, [s.m, s.n]);
  const activation = p.opts?.activation ?? 'none';
  if (activation !== 'none' && activation !== 'gelu-grad')
    throw new RangeError(`${op}: activation '${activation}' is not grouped (use prepareMatmul)`);
  if (activation === 'gelu-grad' && !p.aux)
    throw new RangeError(`${op}: activation 'gelu-grad' needs an aux tensor`);
  if (activation !== 'gelu-grad' && p.aux)
    throw new RangeError(`${op}: aux is read only with activation 'gelu-grad'`);
  if (p.aux) requireShape(op, 'aux', p.aux, [s.m, s.n]);
  return s;
}

/**
 * The grouped dispatch of `problems` (C_i = epilogue_i(op_i(A)·op_i(B_i))), then the reduce
 * of each split problem (deferrable as prepareMatmul marks it).
 */
export async function prepareGroupedMatmul(
  ctx: GpuContext,
  a: Tensor<'f32'>,
  problems: readonly [GroupedMatmulProblem, GroupedMatmulProblem],
  opts: GroupedMatmulOptions = {},
): Promise<PreparedDispatch[]> {
  if (problems.length !== 2)
    throw new RangeError(`groupedMatmul: ${problems.length as number} problems, expected 2`);
  const shapes = problems.map((p, i) => checkProblem(a, p, i));
  if (problems.filter((p) => p.aux).length > 1)
    throw new RangeError('groupedMatmul: only one problem may have a GELU-gradient epilogue');
  const planned: PlannedProblem[] = problems.map((p, i) => ({
    s: shapes[i],
    split: matmulPlan(ctx.choices, shapes[i], p.opts).split,
  }));
  const splitting = planned.map((p) => p.split.splits > 1);
  const owned: GPUBuffer[] = [];
  const partials = problems.map((p, i) => {
    if (!splitting[i]) return undefined;
    const shape = splitKPartialsShape(planned[i].s, planned[i].split);
    if (!p.partials) {
      const own = Tensor.empty(ctx, shape, 'f32', 'grouped matmul split-K partials');
      owned.push(own.buffer);
      return own;
    }
    if (p.partials.size < shape.reduce((x, y) => x * y, 1))
      throw new RangeError(
        `groupedMatmul: problem ${i}: partials ${dims(p.partials.shape)} cannot hold the split product's ${dims(shape)}`,
      );
    return p.partials;
  });
  // What each problem's workgroups write: its C, or its partials when split. Neither may
  // share a buffer with anything the dispatch reads (WebGPU), and a split problem's C, written
  // by its reduce afterwards, nothing the other problem reads or writes (they are independent).
  const written = problems.map((p, i) => partials[i] ?? p.c);
  const inputs = {
    a,
    b0: problems[0].b,
    b1: problems[1].b,
    aux0: problems[0].aux,
    aux1: problems[1].aux,
  };
  requireDistinct('groupedMatmul', { c0: written[0], c1: written[1] }, inputs);
  problems.forEach((p, i) => {
    if (splitting[i])
      requireDistinct(
        'groupedMatmul',
        { [`c${i}`]: p.c },
        { ...inputs, partials0: written[0], partials1: written[1] },
      );
  });

  const tileName = opts.tile ?? groupedMatmulTile(ctx.choices, planned);
  const tile = MATMUL_TILES[tileName];
  const stages = opts.stages ?? chooseMatmulStages(ctx.choices, tileName);
  const kernel = await matmulTileKernel(ctx, 'matmul_grouped', tileName, stages);
  const fields: number[] = [];
  let first = 0;
  const costs: DispatchCost[] = [];
  planned.forEach(({ s, split }, i) => {
    const p = problems[i];
    const activation = p.opts?.activation ?? 'none';
    const flags =
      (s.transA ? FLAG.transA : 0) |
      (s.transB ? FLAG.transB : 0) |
      (splitting[i]
        ? FLAG.splitK
        : (activation === 'gelu-grad' ? FLAG.geluGrad : 0) |
          (p.opts?.accumulate ? FLAG.accumulate : 0));
    const tiles = tilesOf(s, tile.tile);
    fields.push(s.m, s.n, s.k, split.kChunk, Math.ceil(s.n / tile.tile), tiles, first, flags);
    first += tiles * split.splits;
    // As prepareMatmul declares it: a split pass reads A and B and writes the partials.
    const cost = splitting[i] ? matmulCost(s, {}, {}) : matmulCost(s, p, p.opts ?? {});
    if (splitting[i]) cost.bytesWritten = 4 * split.splits * s.m * s.n;
    costs.push(cost);
  });
  const grid = foldedGrid(first, ctx.choices.limits.maxComputeWorkgroupsPerDimension);
  fields.push(first, grid[0]);
  const uniform = uniformU32(ctx, `${kernel.name} params`, fields);
  const aux = problems[0].aux ?? problems[1].aux;
  const cost: DispatchCost = {
    flops: costs[0].flops + costs[1].flops,
    bytesRead: costs[0].bytesRead + costs[1].bytesRead,
    bytesWritten: costs[0].bytesWritten + costs[1].bytesWritten,
  };
  const grouped = createDispatch(
    ctx,
    kernel,
    [
      a.binding,
      problems[0].b.binding,
      written[0].binding,
      problems[1].b.binding,
      written[1].binding,
      aux?.binding ?? ctx.placeholder('read'),
      uniform,
    ],
    grid,
    [uniform, ...owned],
    cost,
  );
  const reduces: PreparedDispatch[] = [];
  for (let i = 0; i < 2; i++) {
    if (!splitting[i]) continue;
    const p = problems[i];
    const t = { a, b: p.b, c: p.c, aux: p.aux, partials: partials[i]! };
    const { s, split } = planned[i];
    for (const reduce of await prepareSplitKReduce(ctx, t, s, split, p.opts))
      reduces.push(deferrableReduce(reduce, t, s, split, p.opts ?? {}, !p.partials));
  }
  return [grouped, ...reduces];
}

/** Runs a group once (tests, kernel cases): C_i of `problems` as prepareGroupedMatmul computes them. */
export async function groupedMatmul(
  ctx: GpuContext,
  a: Tensor<'f32'>,
  problems: readonly [GroupedMatmulProblem, GroupedMatmulProblem],
  opts: GroupedMatmulOptions = {},
): Promise<void> {
  await runOnce(ctx, await prepareGroupedMatmul(ctx, a, problems, opts));
}
