/**
 * Column sums (`shaders/column_sum.wgsl`): x [..., N] viewed as [R, N] → out [N], the
 * gradient of a bias added to every row. Tall matrices take several passes through scratch
 * partials ([⌈R/256⌉, N], then [⌈R/65536⌉, N], ...), which the returned dispatches own.
 */
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  runOnce,
  type BindingResource,
  type DispatchCost,
  type PreparedDispatch,
} from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import { asRowsCols, dims, requireDistinct, requireSize } from './checks';

/** Must match TILE_COLS and CHUNK_ROWS in column_sum.wgsl. */
export const COLUMN_SUM_TILE = { cols: 64, chunkRows: 256 } as const;

export interface ColumnSumTensors {
  /** [..., N], viewed as [R, N]. */
  x: Tensor<'f32'>;
  /** [N]. */
  out: Tensor<'f32'>;
}

export interface ColumnSumOptions {
  /** out += Σ_r x[r] instead of out = Σ_r x[r] (gradient accumulation). */
  accumulate?: boolean;
}

/** The row counts each pass reduces: [R, ⌈R/256⌉, ...] down to a pass that yields one row. */
export function columnSumPasses(rows: number): number[] {
  const passes = [rows];
  while (passes[passes.length - 1] > COLUMN_SUM_TILE.chunkRows) {
    passes.push(Math.ceil(passes[passes.length - 1] / COLUMN_SUM_TILE.chunkRows));
  }
  return passes;
}

/** One pass: reads rows × cols, writes outRows × cols (reading them too when accumulating). */
function columnSumPassCost(
  rows: number,
  cols: number,
  outRows: number,
  accumulate: boolean,
): DispatchCost {
  return {
    flops: rows * cols,
    bytesRead: 4 * (rows + (accumulate ? outRows : 0)) * cols,
    bytesWritten: 4 * outRows * cols,
  };
}

/**
 * out = Σ_r x[r] (or out += with `accumulate`). Record the dispatches in order, in one pass
 * or consecutive passes; each pass's scratch output is owned by its dispatch and read by the
 * next, so release them together (runOnce does).
 */
export async function prepareColumnSum(
  ctx: GpuContext,
  { x, out }: ColumnSumTensors,
  opts: ColumnSumOptions = {},
): Promise<PreparedDispatch[]> {
  const { rows, cols } = asRowsCols('columnSum', x.shape);
  if (rows < 1 || cols < 1) throw new RangeError(`columnSum: x ${dims(x.shape)} has no values`);
  requireSize('columnSum', 'out', out, cols);
  requireDistinct('columnSum', { out }, { x });
  const passes = columnSumPasses(rows);
  const limit = ctx.choices.limits.maxComputeWorkgroupsPerDimension;
  const firstChunks = Math.ceil(rows / COLUMN_SUM_TILE.chunkRows);
  if (firstChunks > limit) {
    throw new RangeError(`columnSum: ${rows} rows need ${firstChunks} row chunks (limit ${limit})`);
  }
  const partialKernel = await ctx.kernels.get({ shader: 'column_sum' });
  const lastKernel = opts.accumulate
    ? await ctx.kernels.get({ shader: 'column_sum', constants: { ACCUMULATE: 1 } })
    : partialKernel;

  const dispatches: PreparedDispatch[] = [];
  let input: BindingResource = x.binding;
  for (let p = 0; p < passes.length; p++) {
    const passRows = passes[p];
    const chunks = Math.ceil(passRows / COLUMN_SUM_TILE.chunkRows);
    const last = p === passes.length - 1;
    const kernel = last ? lastKernel : partialKernel;
    const params = uniformU32(ctx, `${kernel.name} pass ${p} params`, [passRows, cols]);
    const owned = [params];
    let output: BindingResource = out.binding;
    if (!last) {
      const partials = Tensor.empty(ctx, [chunks, cols], 'f32', `columnSum partials ${p}`).buffer;
      owned.push(partials);
      output = partials;
    }
    dispatches.push(
      createDispatch(
        ctx,
        kernel,
        [input, output, params],
        [Math.ceil(cols / COLUMN_SUM_TILE.cols), chunks],
        owned,
        columnSumPassCost(passRows, cols, last ? 1 : chunks, last && !!opts.accumulate),
      ),
    );
    input = output;
  }
  return dispatches;
}

/** Σ over rows of x [..., N] into `out` [N] (allocated unless given; must be given to accumulate). */
export async function columnSum(
  ctx: GpuContext,
  t: { x: Tensor<'f32'>; out?: Tensor<'f32'> },
  opts: ColumnSumOptions = {},
): Promise<Tensor<'f32'>> {
  if (opts.accumulate && !t.out) throw new RangeError('columnSum: accumulate needs an output');
  const cols = asRowsCols('columnSum', t.x.shape).cols;
  const out = t.out ?? Tensor.empty(ctx, [cols], 'f32', 'columnSum out');
  await runOnce(ctx, await prepareColumnSum(ctx, { x: t.x, out }, opts));
  return out;
}
