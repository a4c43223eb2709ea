/**
 * The words of the query-attention view: the prefix a view opens with (drawn as training
 * draws it), the mask's name, the caption of a map and its PNG's file name.
 */
import type { HeadChoice } from '../model/queryAttentionRows';
import { fileSafe } from './download';
import { patchCell } from './patchLossMap';
import type { QueryAttentionResult } from './queryAttentionStore';
import { datasetLabel, type RunRecord } from './runRecords';

/** S ~ U{1 … K−1} as the trainer draws it, from a small generator seeded by `seed`. */
export function drawPrefix(K: number, seed: number): number {
  let x = (seed ^ 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return 1 + (x % Math.max(1, K - 1));
}

export const maskText = (prefix: number, K: number) =>
  prefix === 1
    ? 'causal (S = 1)'
    : prefix === K
      ? `bidirectional (S = K = ${K})`
      : `prefix S = ${prefix}`;

export function attentionCaption(
  run: Pick<RunRecord, 'name' | 'dataset'>,
  r: QueryAttentionResult,
  head: HeadChoice,
  query: number,
) {
  const { row, col } = patchCell(r.order[query], r.side);
  return [
    `${run.name} (${r.ordering} ordering, step ${r.step})`,
    `${datasetLabel(run.dataset)} validation image ${r.imageIndex + 1}`,
    `block ${r.block + 1} of ${r.depth}`,
    head === 'mean' ? `mean over ${r.heads} heads` : `head ${head + 1} of ${r.heads}`,
    maskText(r.prefix, r.positions),
    `query row ${row + 1}, column ${col + 1} (position ${query + 1} of ${r.positions})`,
  ].join(' · ');
}

/** The PNG's name: run, image, block, head, prefix and the query's row and column (from 1). */
export function attentionFileName(
  run: Pick<RunRecord, 'name'>,
  r: QueryAttentionResult,
  head: HeadChoice,
  queryPatch: number,
): string {
  const which = head === 'mean' ? 'mean' : `head-${head + 1}`;
  const { row, col } = patchCell(queryPatch, r.side);
  return `${fileSafe(`${run.name}-attention-image-${r.imageIndex + 1}-block-${r.block + 1}-${which}-S-${r.prefix}-query-r${row + 1}c${col + 1}`)}.png`;
}
