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
import { flatGridFor } from './elementwise';

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

export interface PositionalEmbeddingOptions {
  /** [T] u32 raster positions; token t gets table row order[t]. Entries ≥ K make it NaN. */
  order?: Tensor<'u32'>;
  /** Write x + table here instead of adding in place to x. */
  out?: Tensor<'f32'>;
}

/** tokens [..., T, D] += table[order[t]] in place, or into `opts.out`. */
export async function preparePositionalEmbeddingAdd(
  ctx: GpuContext,
  tokens: Tensor<'f32'>,
  table: Tensor<'f32'>,
  opts: PositionalEmbeddingOptions = {},
): Promise<PreparedDispatch> {
  const shape = tokens.shape;
  if (shape.length < 2)
    throw new RangeError(`posembed: tokens must be [..., T, D], got [${shape.join(',')}]`);
  const dim = shape[shape.length - 1];
  const count = shape[shape.length - 2];
  if (table.shape.length !== 2 || table.shape[1] !== dim) {
    throw new RangeError(
      `posembed: table is [${table.shape.join(',')}], expected [K, ${dim}] for tokens [${shape.join(',')}]`,
    );
  }
  const positions = table.shape[0];
  if (opts.order) {
    if (opts.order.size !== count)
      throw new RangeError(`posembed: order has ${opts.order.size} entries for ${count} tokens`);
  } else if (count > positions) {
    throw new RangeError(`posembed: ${count} tokens but the table has only ${positions} positions`);
  }
  const out = opts.out;
  if (out) {
    if (out.size !== tokens.size)
      throw new RangeError(
        `posembed: out is [${out.shape.join(',')}], expected [${shape.join(',')}]`,
      );
    if (out.buffer === table.buffer) throw new RangeError('posembed: out must not be the table');
  }
  if (tokens.buffer === table.buffer)
    throw new RangeError('posembed: tokens must not be the table');
  const inPlace = !out || out.buffer === tokens.buffer;
  const constants: Record<string, number> = {};
  if (inPlace) constants.IN_PLACE = 1;
  if (opts.order) constants.HAS_ORDER = 1;
  const kernel = await ctx.kernels.get({ shader: 'posembed', constants });
  const params = uniformU32(ctx, `${kernel.name} params`, [tokens.size, count, dim, positions]);
  return createDispatch(
    ctx,
    kernel,
    [
      inPlace ? ctx.placeholder('read') : tokens.buffer,
      table.buffer,
      opts.order?.buffer ?? ctx.placeholder('read'),
      inPlace ? tokens.buffer : out!.buffer,
      params,
    ],
    flatGridFor(ctx, tokens.size),
    [params],
  );
}

/** Runs the add once; returns the tensor written (tokens itself when in place). */
export async function addPositionalEmbedding(
  ctx: GpuContext,
  tokens: Tensor<'f32'>,
  table: Tensor<'f32'>,
  opts: PositionalEmbeddingOptions = {},
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, [await preparePositionalEmbeddingAdd(ctx, tokens, table, opts)]);
  return opts.out ?? tokens;
}
