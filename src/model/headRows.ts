/**
 * The head and the loss run only on the rows whose prediction counts: position i of sample
 * b predicts target patch i + 1, which counts iff S_b ≤ i + 1 ≤ K − 1 (patchMseLoss). The
 * prefix lengths are drawn on the CPU, so each step lists the counted full rows b·K + i
 * here, the GPU gathers them into a compact block of M rows, and the head's matmuls,
 * LayerNorms and the loss see M rows instead of B·K (about half of them for prefixes drawn
 * uniformly; the head is ~40% of a step's FLOPs). The math is the same: the rows that do not
 * count had zero gradient, and are now not computed at all.
 *
 * Grid sizes per step without rewriting every kernel's uniforms: the head is prepared once
 * per row bucket (M rounded up to a multiple of ⌈B·K / HEAD_ROW_BUCKETS⌉, so at most that
 * many preparations), and `DispatchSlots` copies the chosen bucket's pipelines, bind groups
 * and grids into the same PreparedDispatch objects every step — the model's dispatch lists,
 * and any list a caller built from them, stay valid. Padding rows (M ≤ m < bucket) gather
 * zeros, get a zero loss gradient and so contribute exactly zero to every gradient.
 */
import type { PreparedDispatch } from '../gpu/dispatch';
import { releaseDispatch } from '../gpu/dispatch';
import { NO_ROW } from '../reference/gatherRows';
import { isCountedPosition } from '../reference/patchMseLoss';

export { NO_ROW };

/** How many row counts the head is prepared for (the last one is every row, B·K). */
export const HEAD_ROW_BUCKETS = 16;
/** Bucket sizes are multiples of this many rows (a matmul tile), unless B·K is smaller. */
const BUCKET_ROW_MULTIPLE = 64;

/** Which rows the head computes: those whose prediction counts, or all (predictions). */
export type HeadRowMode = 'counted' | 'all';

export interface HeadRowLists {
  /** M: rows the head must compute. */
  count: number;
  /** [B·K]: compact row m → its full row b·K + i; NO_ROW from M on. */
  rows: Uint32Array;
  /** [B·K]: full row → its compact row, or NO_ROW when it is not computed. */
  rowOf: Uint32Array;
  /** [B·K]: compact row m → the head's positional-table row order[i]; NO_ROW from M on. */
  positions: Uint32Array;
}

/** The rows the head computes for one batch, in full-row order. */
export function headRowLists(
  prefixLengths: ArrayLike<number>,
  order: ArrayLike<number>,
  mode: HeadRowMode,
): HeadRowLists {
  const batch = prefixLengths.length;
  const K = order.length;
  const total = batch * K;
  const rows = new Uint32Array(total).fill(NO_ROW);
  const rowOf = new Uint32Array(total).fill(NO_ROW);
  const positions = new Uint32Array(total).fill(NO_ROW);
  let count = 0;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < K; i++) {
      if (mode === 'counted' && !isCountedPosition(i, prefixLengths[b], K)) continue;
      const row = b * K + i;
      rows[count] = row;
      rowOf[row] = count;
      positions[count] = order[i];
      count++;
    }
  }
  return { count, rows, rowOf, positions };
}

/** The row counts the head is prepared for, ascending; the last is `totalRows`. */
export function headRowBuckets(totalRows: number, buckets = HEAD_ROW_BUCKETS): number[] {
  const step =
    Math.ceil(Math.ceil(totalRows / buckets) / BUCKET_ROW_MULTIPLE) * BUCKET_ROW_MULTIPLE;
  const sizes: number[] = [];
  for (let k = 1; sizes[sizes.length - 1] !== totalRows; k++)
    sizes.push(Math.min(k * step, totalRows));
  return sizes;
}

/** The index of the smallest bucket that holds `count` rows (at least one row). */
export function headRowBucket(count: number, buckets: readonly number[]): number {
  const index = buckets.findIndex((size) => size >= Math.max(1, count));
  if (index < 0)
    throw new RangeError(`head rows: ${count} rows exceed the largest bucket (${buckets.at(-1)})`);
  return index;
}

/**
 * Fixed PreparedDispatch objects whose contents (pipeline, bind group, grid, cost) are
 * copied from one of several prepared variants of the same work. Variants may differ in
 * length; a slot with nothing to copy gets an empty grid, which recording skips. The slots
 * own nothing: `release` frees every variant's buffers.
 */
export class DispatchSlots {
  readonly slots: PreparedDispatch[];
  private selected = -1;

  constructor(private readonly variants: readonly (readonly PreparedDispatch[])[]) {
    const length = Math.max(...variants.map((v) => v.length));
    const any = variants.find((v) => v.length > 0)?.[0];
    this.slots = Array.from({ length }, () => ({
      name: 'empty slot',
      pipeline: any!.pipeline,
      bindGroup: any!.bindGroup,
      workgroups: [0, 0, 0] as [number, number, number],
      owned: [],
    }));
    this.select(variants.length - 1);
  }

  /** Every prepared variant's dispatches (what owns buffers: the memory check counts them all). */
  get allVariants(): readonly PreparedDispatch[] {
    return this.variants.flat();
  }

  get selectedVariant(): number {
    return this.selected;
  }

  select(variant: number): void {
    if (variant === this.selected) return;
    const source = this.variants[variant];
    this.slots.forEach((slot, i) => {
      const d = source[i];
      if (!d) {
        Object.assign(slot, { name: 'empty slot', workgroups: [0, 0, 0] });
        delete slot.cost;
        return;
      }
      // Every field but `owned` is copied, also fields a later PreparedDispatch grows.
      const fields = slot as unknown as Record<string, unknown>;
      for (const key of Object.keys(fields)) if (!(key in d)) delete fields[key];
      Object.assign(slot, d, { owned: slot.owned, workgroups: [...d.workgroups] });
    });
    this.selected = variant;
  }

  release(): void {
    for (const variant of this.variants) for (const d of variant) releaseDispatch(d);
  }
}
