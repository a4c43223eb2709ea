/**
 * Many partial-sum reductions in one dispatch (`shaders/partials_reduce.wgsl`):
 *   out[j] (+)= Σ_{s < count} partials[s·stride + j],  j < length,
 * for a whole table of (partials, out) ranges — the second pass of every split-K weight
 * gradient (matmulSplitK.ts) and of every LayerNorm's parameter gradients (layernorm.ts).
 *
 * A backward prepares each of those second passes as its own dispatch, marked deferrable
 * (`markDeferrable`) when its partials are a scratch of its own that nothing else writes (the
 * model's per-gradient partials arena, allocation.ts). `deferReductions` then drops the marked
 * dispatches from the backward's list and appends one partials_reduce dispatch per (partials
 * buffer, output buffer) pair at its end: the 35 split-K reduces and 19 LayerNorm parameter
 * reduces of aim-tiny's backward become one dispatch. Each output's partials are added in the
 * same order from 0.0 as the dispatches it replaces, so the gradients are the same bits.
 */
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  foldedGrid,
  releaseDispatch,
  runOnce,
  type PreparedDispatch,
} from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import { dims, requireDtype } from './checks';

/** Outputs per block (the kernel's workgroup size; TABLE_BLOCK in gradientPartials.ts). */
export const PARTIALS_REDUCE_BLOCK = 256;
/** Bytes of one table entry (eight u32). */
export const PARTIALS_REDUCE_ENTRY_BYTES = 32;

/** out[j] (+)= Σ_{s < count} partials[s·stride + j] for j < length. */
export interface PartialsReduction {
  /** At least (count − 1)·stride + length values. */
  partials: Tensor<'f32'>;
  /** At least `length` values. */
  out: Tensor<'f32'>;
  count: number;
  stride: number;
  length: number;
  /** out += … instead of out = … (gradient accumulation). */
  accumulate: boolean;
}

/** Table entries (blocks) of `reductions`: one per PARTIALS_REDUCE_BLOCK outputs. */
export function partialsReduceBlocks(
  reductions: readonly Pick<PartialsReduction, 'length'>[],
): number {
  return reductions.reduce((n, r) => n + Math.ceil(r.length / PARTIALS_REDUCE_BLOCK), 0);
}

function check(r: PartialsReduction, i: number): void {
  const name = `partialsReduce: reduction ${i}`;
  requireDtype('partialsReduce', `reductions[${i}].partials`, r.partials, 'f32');
  requireDtype('partialsReduce', `reductions[${i}].out`, r.out, 'f32');
  for (const [key, v] of Object.entries({ count: r.count, stride: r.stride, length: r.length }))
    if (!Number.isInteger(v) || v < (key === 'stride' ? 0 : 1))
      throw new RangeError(`${name}: ${key} ${v} must be a positive integer`);
  if (r.length > r.out.size)
    throw new RangeError(`${name}: ${r.length} outputs do not fit out ${dims(r.out.shape)}`);
  const needed = (r.count - 1) * r.stride + r.length;
  if (needed > r.partials.size)
    throw new RangeError(
      `${name}: ${r.count} partial rows of stride ${r.stride} need ${needed} values, partials ${dims(r.partials.shape)} has ${r.partials.size}`,
    );
  if (r.partials.buffer === r.out.buffer)
    throw new RangeError(`${name}: partials and out share a buffer`);
}

/** Every value the reductions read, as [first, end) ranges in their partials buffers. */
function partialsRange(r: PartialsReduction): [number, number] {
  const first = r.partials.byteOffset / 4;
  return [first, first + (r.count - 1) * r.stride + r.length];
}

/**
 * One dispatch per (partials buffer, output buffer) pair, in order of first appearance, that
 * performs every reduction of `reductions`. Their blocks share one table, owned by the first
 * dispatch, of at least `tableEntries` entries (a model pads it to what any adapter needs, so
 * its memory estimate needs no adapter: memory.ts).
 */
export async function preparePartialsReduce(
  ctx: GpuContext,
  reductions: readonly PartialsReduction[],
  { tableEntries = 0 }: { tableEntries?: number } = {},
): Promise<PreparedDispatch[]> {
  if (reductions.length === 0) throw new RangeError('partialsReduce: no reductions');
  reductions.forEach(check);
  const groups = new Map<string, PartialsReduction[]>();
  const keys = new Map<GPUBuffer, number>();
  const id = (b: GPUBuffer) => {
    if (!keys.has(b)) keys.set(b, keys.size);
    return keys.get(b)!;
  };
  for (const r of reductions) {
    const key = `${id(r.partials.buffer)}:${id(r.out.buffer)}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const entries: number[] = [];
  const spans: { first: number; blocks: number; reads: number; writes: number }[] = [];
  for (const group of groups.values()) {
    const first = entries.length / 8;
    let reads = 0;
    let writes = 0;
    for (const r of group) {
      const partialsFirst = r.partials.byteOffset / 4;
      const outFirst = r.out.byteOffset / 4;
      for (let j = 0; j < r.length; j += PARTIALS_REDUCE_BLOCK) {
        const length = Math.min(PARTIALS_REDUCE_BLOCK, r.length - j);
        const accumulate = r.accumulate ? 1 : 0;
        entries.push(outFirst + j, partialsFirst + j, r.count, r.stride, length, accumulate, 0, 0);
      }
      reads += r.count * r.length + (r.accumulate ? r.length : 0);
      writes += r.length;
    }
    spans.push({ first, blocks: entries.length / 8 - first, reads, writes });
  }
  const used = entries.length / 8;
  const data = new Uint32Array(8 * Math.max(used, tableEntries));
  data.set(entries);
  const table = ctx.device.createBuffer({
    label: `partialsReduce table [${data.length / 8}]`,
    size: data.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  ctx.device.queue.writeBuffer(table, 0, data);
  const kernel = await ctx.kernels.get({ shader: 'partials_reduce' });
  const limit = ctx.choices.limits.maxComputeWorkgroupsPerDimension;
  return [...groups.values()].map((group, g) => {
    const { first, blocks, reads, writes } = spans[g];
    const params = uniformU32(ctx, `${kernel.name} params ${g}`, [blocks, first, 0, 0]);
    return createDispatch(
      ctx,
      kernel,
      [group[0].partials.buffer, group[0].out.buffer, table, params],
      foldedGrid(blocks, limit),
      g === 0 ? [params, table] : [params],
      {
        flops: reads - writes,
        bytesRead: 4 * reads + PARTIALS_REDUCE_ENTRY_BYTES * blocks,
        bytesWritten: 4 * writes,
      },
    );
  });
}

/** Runs the reductions once (tests). */
export async function partialsReduce(
  ctx: GpuContext,
  reductions: readonly PartialsReduction[],
): Promise<void> {
  await runOnce(ctx, await preparePartialsReduce(ctx, reductions));
}

const deferrable = new WeakMap<PreparedDispatch, readonly PartialsReduction[]>();

/**
 * Marks `dispatch` as performing exactly `reductions` (and nothing else), so that
 * `deferReductions` may replace it by a merged pass at the end of its list.
 */
export function markDeferrable(
  dispatch: PreparedDispatch,
  reductions: readonly PartialsReduction[],
): PreparedDispatch {
  deferrable.set(dispatch, reductions);
  return dispatch;
}

/** Whether `dispatch` was marked by `markDeferrable`. */
export function isDeferrable(dispatch: PreparedDispatch): boolean {
  return deferrable.has(dispatch);
}

/**
 * `dispatches` without the deferrable reductions, followed by one merged partials_reduce
 * dispatch per (partials buffer, output buffer) pair (the dropped dispatches are released).
 * Only the caller knows that nothing reads a reduction's output before the end of the list
 * (true of the gradients inside a backward); what is checked here is that no two deferred
 * reductions read overlapping partials (else the later producer would overwrite the earlier
 * one's partials before the merged pass reads them) nor write overlapping outputs.
 */
export async function deferReductions(
  ctx: GpuContext,
  dispatches: readonly PreparedDispatch[],
  opts: { tableEntries?: number } = {},
): Promise<PreparedDispatch[]> {
  const kept: PreparedDispatch[] = [];
  const reductions: PartialsReduction[] = [];
  const dropped: PreparedDispatch[] = [];
  for (const d of dispatches) {
    const r = deferrable.get(d);
    if (r) {
      reductions.push(...r);
      dropped.push(d);
    } else kept.push(d);
  }
  if (reductions.length === 0) return [...dispatches];
  requireDisjoint(reductions, (r) => r.partials.buffer, partialsRange, 'partials');
  requireDisjoint(
    reductions,
    (r) => r.out.buffer,
    (r) => [r.out.byteOffset / 4, r.out.byteOffset / 4 + r.length],
    'outputs',
  );
  const merged = await preparePartialsReduce(ctx, reductions, opts);
  dropped.forEach(releaseDispatch);
  return [...kept, ...merged];
}

function requireDisjoint(
  reductions: readonly PartialsReduction[],
  bufferOf: (r: PartialsReduction) => GPUBuffer,
  rangeOf: (r: PartialsReduction) => [number, number],
  what: string,
): void {
  const byBuffer = new Map<GPUBuffer, [number, number][]>();
  for (const r of reductions)
    byBuffer.set(bufferOf(r), [...(byBuffer.get(bufferOf(r)) ?? []), rangeOf(r)]);
  for (const ranges of byBuffer.values()) {
    ranges.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < ranges.length; i++)
      if (ranges[i][0] < ranges[i - 1][1])
        throw new RangeError(
          `partialsReduce: two deferred reductions share ${what} [${ranges[i - 1].join(', ')}) and [${ranges[i].join(', ')}): give each its own scratch`,
        );
  }
}
