/**
 * Sizes of the per-gradient partials scratch a model allocates (allocation.ts) so that every
 * weight gradient's split-K partials and every LayerNorm's parameter-gradient partials have a
 * region of their own, and the backward can run all their second passes in one
 * partials_reduce dispatch at its end (partialsReduce.ts). Pure functions of shapes, with no
 * GPU runtime: the allocation walk (and so the memory estimate) uses them without a device.
 */
import type { MatmulShape } from '../reference/matmul';
import { splitKRangesOnAnyGpu } from './matmulPlan';

/** Rows per chunk of the LayerNorm parameter-gradient partials (CHUNK_ROWS in layernorm_backward.wgsl). */
export const LAYERNORM_PARAM_CHUNK_ROWS = 256;

/**
 * Shape of each of the LayerNorm backward's two parameter-gradient partial buffers (dweight,
 * dbias) for `rows` rows of width `dim`: one row of partial sums per CHUNK_ROWS rows.
 */
export function layerNormParamPartialsShape(rows: number, dim: number): [number, number] {
  return [Math.ceil(rows / LAYERNORM_PARAM_CHUNK_ROWS), dim];
}

/**
 * Values of split-K partials the product `s` (or the same product over a shorter K) needs on
 * any adapter with the tile prepareMatmul would choose there (0: never split).
 */
export function splitKPartialsValues(s: MatmulShape): number {
  return splitKRangesOnAnyGpu(s).reduce(
    (n, ranges) => Math.max(n, ranges > 1 ? s.batch * ranges * s.m * s.n : 0),
    0,
  );
}

/** Outputs per entry of partials_reduce's table (PARTIALS_REDUCE_BLOCK in partialsReduce.ts). */
const TABLE_BLOCK = 256;

/**
 * Entries of the partials_reduce table that covers gradients of `sizes` values (one per 256
 * outputs of each): what a model pads each merged pass's table to (every gradient that has
 * partials, split on this adapter or not), so the memory estimate needs no adapter.
 */
export function partialsReduceTableEntries(sizes: readonly number[]): number {
  return sizes.reduce((n, size) => n + Math.ceil(size / TABLE_BLOCK), 0);
}
