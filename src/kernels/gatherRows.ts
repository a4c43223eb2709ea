/**
 * Row gather on the GPU (`shaders/gather_rows.wgsl`): out[m, :] = src[index[m], :], or
 * out[m, :] += src[index[m], :] with `accumulate`. index[m] = NO_ROW gives a zero row (with
 * `accumulate`, the row is left as it is). The head uses it to run only on the rows whose
 * prediction counts (src/model/headRows.ts); the index is written per step, so the prepared
 * dispatch stays valid.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import { NO_ROW } from '../reference/gatherRows';
import { asRowsCols, dims, requireDistinct, requireDtype, requireSize } from './checks';
import { flatGridFor, flatKernel } from './flat';

export { NO_ROW };

export interface GatherRowsTensors {
  /** [S, D] (or any shape whose last dimension is D): the rows gathered from. */
  src: Tensor<'f32'>;
  /** u32 [M]: the source row of each output row, or NO_ROW. */
  index: Tensor<'u32'>;
  /** [M, D]. */
  out: Tensor<'f32'>;
}

export interface GatherRowsOptions {
  /** out += the gathered rows instead of out = them. */
  accumulate?: boolean;
}

export async function prepareGatherRows(
  ctx: GpuContext,
  { src, index, out }: GatherRowsTensors,
  opts: GatherRowsOptions = {},
): Promise<PreparedDispatch[]> {
  const { rows: srcRows, cols: dim } = asRowsCols('gatherRows', src.shape);
  requireDtype('gatherRows', 'index', index, 'u32');
  const rows = index.size;
  requireSize('gatherRows', 'out', out, rows * dim, dims([rows, dim]));
  requireDistinct('gatherRows', { out }, { src, index });
  const constants: Record<string, number> = opts.accumulate ? { ACCUMULATE: 1 } : {};
  const kernel = await flatKernel(ctx, { shader: 'gather_rows', constants });
  const params = uniformU32(ctx, `${kernel.name} params`, [rows * dim, dim, srcRows]);
  const values = rows * dim;
  return [
    createDispatch(
      ctx,
      kernel,
      [src.binding, index.binding, out.binding, params],
      flatGridFor(ctx, values),
      [params],
      {
        flops: opts.accumulate ? values : 0,
        bytesRead: 4 * (values + rows) + (opts.accumulate ? 4 * values : 0),
        bytesWritten: 4 * values,
      },
    ),
  ];
}

/** Runs the gather once into `out`. */
export async function gatherRows(
  ctx: GpuContext,
  t: GatherRowsTensors,
  opts: GatherRowsOptions = {},
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, await prepareGatherRows(ctx, t, opts));
  return t.out;
}
