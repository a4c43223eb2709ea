/**
 * Adds ml-aim's fixed 2-D sin-cos positional embedding to tokens (`shaders/posembed.wgsl`).
 * The table [K, D] is built once in float64 on the CPU (`sinCosPositionalEmbedding`) and
 * uploaded as f32; token t of every image gets row order[t] (its patch's raster position).
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import { sinCosPositionalEmbedding } from '../reference/posembed';
import { dims, requireDistinct } from './checks';
import { flatGridFor, flatKernel } from './flat';

/** The [gridH·gridW, dim] sin-cos table on the GPU (f32, rounded from float64). */
export function positionalEmbeddingTable(
  ctx: GpuContext,
  gridH: number,
  gridW: number,
  dim: number,
): Tensor<'f32'> {
  const table = Float32Array.from(sinCosPositionalEmbedding(gridH, gridW, dim));
  return Tensor.fromArray(
    ctx,
    [gridH * gridW, dim],
    'f32',
    table,
    `sin-cos table ${gridH}×${gridW}×${dim}`,
  );
}

export interface PositionalEmbeddingTensors {
  /** [..., T, D]; receives the sum unless `out` is given. */
  tokens: Tensor<'f32'>;
  /** [K, D] from positionalEmbeddingTable. */
  table: Tensor<'f32'>;
  /** [T] u32 raster positions; token t gets table row order[t]. Entries ≥ K make it NaN. */
  order?: Tensor<'u32'>;
  /** Write tokens + table here instead of adding in place to tokens. */
  out?: Tensor<'f32'>;
}

/** tokens [..., T, D] += table[order[t]] in place, or into `out`. */
export async function preparePositionalEmbeddingAdd(
  ctx: GpuContext,
  { tokens, table, order, out }: PositionalEmbeddingTensors,
): Promise<PreparedDispatch[]> {
  const shape = tokens.shape;
  if (shape.length < 2)
    throw new RangeError(`posembed: tokens must be [..., T, D], got ${dims(shape)}`);
  const dim = shape[shape.length - 1];
  const count = shape[shape.length - 2];
  if (table.shape.length !== 2 || table.shape[1] !== dim) {
    throw new RangeError(
      `posembed: table is ${dims(table.shape)}, expected [K, ${dim}] for tokens ${dims(shape)}`,
    );
  }
  const positions = table.shape[0];
  if (order) {
    if (order.size !== count)
      throw new RangeError(`posembed: order has ${order.size} entries for ${count} tokens`);
  } else if (count > positions) {
    throw new RangeError(`posembed: ${count} tokens but the table has only ${positions} positions`);
  }
  if (out && out.size !== tokens.size)
    throw new RangeError(`posembed: out is ${dims(out.shape)}, expected ${dims(shape)}`);
  const inPlace = !out || (out.buffer === tokens.buffer && out.byteOffset === tokens.byteOffset);
  if (inPlace) requireDistinct('posembed', { tokens }, { table, order });
  else requireDistinct('posembed', { out }, { tokens, table, order });
  const constants: Record<string, number> = {};
  if (inPlace) constants.IN_PLACE = 1;
  if (order) constants.HAS_ORDER = 1;
  const kernel = await flatKernel(ctx, { shader: 'posembed', constants });
  const params = uniformU32(ctx, `${kernel.name} params`, [tokens.size, count, dim, positions]);
  return [
    createDispatch(
      ctx,
      kernel,
      [
        inPlace ? ctx.placeholder('read') : tokens.binding,
        table.binding,
        order?.binding ?? ctx.placeholder('read'),
        inPlace ? tokens.binding : out.binding,
        params,
      ],
      flatGridFor(ctx, tokens.size),
      [params],
      // Reads every token and the table rows it uses (once each), writes every token.
      {
        flops: tokens.size,
        bytesRead: 4 * (tokens.size + Math.min(count, positions) * dim + (order ? count : 0)),
        bytesWritten: 4 * tokens.size,
      },
    ),
  ];
}

/** Runs the add once; returns the tensor written (tokens itself when in place). */
export async function addPositionalEmbedding(
  ctx: GpuContext,
  t: PositionalEmbeddingTensors,
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, await preparePositionalEmbeddingAdd(ctx, t));
  return t.out ?? t.tokens;
}
