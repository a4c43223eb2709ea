/**
 * The model's attention for every query of one image (issue 14, "Per-patch views"): the float64
 * reference trunk (./reference.ts) run up to the chosen block under a prefix mask of S tokens,
 * and that block's per-head probability rows. The worker calls this with a run's checkpoint
 * weights; the page draws one query's row (./queryAttentionRows.ts maps it to the image).
 */
import { numPatches, type AimConfig } from './config';
import { isPermutation } from './orderings';
import {
  attentionProbabilitiesReference,
  attentionShapeOf,
  trunkForwardReference,
  type ParamValues,
} from './reference';

export interface QueryAttentionInput {
  /** One image, [3, H, W], already normalised as the trainer's evaluation normalises it. */
  image: ArrayLike<number>;
  /** The run's ordering: token t is the patch at raster index order[t]. */
  order: readonly number[];
  /** Tokens < prefix attend bidirectionally (1: causal, K: fully bidirectional). */
  prefix: number;
  /** Zero-based trunk block. */
  block: number;
}

/** A block's attention probabilities for one image, in sequence order. */
export interface BlockAttention {
  /** Tokens (patches). */
  positions: number;
  heads: number;
  /** [heads, K, K]: row (h, i) is query i's probabilities over keys j; 0 where masked. */
  probs: Float64Array;
}

/** Says what is wrong with a request before any arithmetic (bad input loses nothing). */
export function queryAttentionProblem(
  c: AimConfig,
  input: QueryAttentionInput,
): string | undefined {
  const K = numPatches(c);
  if (!Number.isInteger(input.block) || input.block < 0 || input.block >= c.depth)
    return `block ${input.block + 1} does not exist: the trunk has blocks 1 to ${c.depth}`;
  if (!Number.isInteger(input.prefix) || input.prefix < 1 || input.prefix > K)
    return `prefix length ${input.prefix} is outside 1 … ${K} (1: causal, ${K}: bidirectional)`;
  if (!isPermutation(input.order, K))
    return `the ordering is not a permutation of the ${K} patches`;
  if (input.image.length !== c.channels * c.imageSize * c.imageSize)
    return `the image has ${input.image.length} values; the model takes ${c.channels}×${c.imageSize}×${c.imageSize}`;
  return undefined;
}

/** The qkv of the first `blockCount` blocks for one image under the prefix mask (what the rows need). */
export function trunkQkvReference(
  c: AimConfig,
  params: ParamValues,
  input: QueryAttentionInput,
  blockCount = input.block + 1,
): Float64Array[] {
  const problem = queryAttentionProblem(c, input);
  if (problem) throw new RangeError(`query attention: ${problem}`);
  const trunk = trunkForwardReference(
    c,
    params,
    { batch: 1, images: input.image, order: input.order, prefixLengths: [input.prefix] },
    Math.max(blockCount, input.block + 1),
  );
  return trunk.blocks.map((b) => b.qkv);
}

/** A block's probability rows from its qkv (one image) under a prefix of `prefix` tokens. */
export function blockAttentionFromQkv(
  c: AimConfig,
  qkv: Float64Array,
  prefix: number,
): BlockAttention {
  const shape = attentionShapeOf(c, 1);
  const probs = attentionProbabilitiesReference(qkv, [prefix], shape);
  return { positions: shape.seqLen, heads: shape.heads, probs };
}

export function blockAttentionReference(
  c: AimConfig,
  params: ParamValues,
  input: QueryAttentionInput,
): BlockAttention {
  const qkv = trunkQkvReference(c, params, input);
  return blockAttentionFromQkv(c, qkv[input.block], input.prefix);
}
