/**
 * Browser kernel cases (see ./kernelCases.ts) for the head-on-counted-rows path
 * (src/model/headRows.ts): the row gather (plain, accumulating, with absent rows) and the
 * patch MSE loss on gathered prediction rows, graded against the same float64 references as
 * the Node tests.
 */
import { runOnce } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { readBackAndFree } from './readBack';
import { prepareGatherRows } from '../kernels/gatherRows';
import { preparePatchMseLoss } from '../kernels/patchMseLoss';
import { worstRatio } from '../reference/compare';
import { gatherRowsReference, NO_ROW } from '../reference/gatherRows';
import {
  isCountedPosition,
  patchMseLossBackwardReference,
  patchMseLossReference,
} from '../reference/patchMseLoss';
import { randomF32 } from '../reference/random';
import type { KernelCase } from './kernelCases';

/** out [index.length, dim] gathered from src [srcRows, dim]; every other index absent. */
export function gatherRowsCase(
  name: string,
  srcRows: number,
  dim: number,
  index: number[],
  accumulate: boolean,
): KernelCase {
  return {
    name,
    inputs: () => ({
      src: Array.from(randomF32(srcRows * dim, 91)),
      out: Array.from(randomF32(index.length * dim, 92)),
      index,
    }),
    run: async (ctx, x) => {
      const src = Tensor.fromArray(ctx, [srcRows, dim], 'f32', x.src, 'src');
      const idx = Tensor.fromArray(ctx, [index.length], 'u32', x.index, 'index');
      const out = Tensor.fromArray(ctx, [index.length, dim], 'f32', x.out, 'out');
      await runOnce(ctx, await prepareGatherRows(ctx, { src, index: idx, out }, { accumulate }));
      return readBackAndFree({ out }, [src, idx, out]);
    },
    grade: (x, got) => {
      const opts = accumulate ? { accumulateInto: Float32Array.from(x.out) } : {};
      const want = gatherRowsReference(x.src, x.index, dim, opts);
      // A copy is exact; an accumulation is one f32 rounding of the sum.
      return worstRatio(got.out, want, (i) => 2 ** -24 * Math.abs(want[i]) + 1e-30);
    },
  };
}

/** The loss on the counted rows of [B, K, P] predictions, gathered, plus two padding rows. */
export function gatheredPatchMseLossCase(
  name: string,
  batch: number,
  positions: number,
  values: number,
  prefix: number[],
): KernelCase {
  const shape = { batch, positions, patchValues: values };
  const rows: number[] = [];
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < positions; i++)
      if (isCountedPosition(i, prefix[b], positions)) rows.push(b * positions + i);
  rows.push(NO_ROW, NO_ROW);
  return {
    name,
    inputs: () => ({
      pred: Array.from(randomF32(batch * positions * values, 43)),
      targets: Array.from(randomF32(batch * positions * values, 44, -2, 2)),
      prefix,
      rows,
    }),
    run: async (ctx, x) => {
      const M = x.rows.length;
      const gathered = x.rows.flatMap((r) =>
        r === NO_ROW
          ? new Array<number>(values).fill(7)
          : x.pred.slice(r * values, (r + 1) * values),
      );
      const pred = Tensor.fromArray(ctx, [M, values], 'f32', gathered, 'pred');
      const targets = Tensor.fromArray(
        ctx,
        [batch, positions, values],
        'f32',
        x.targets,
        'targets',
      );
      const prefixLengths = Tensor.fromArray(ctx, [batch], 'u32', x.prefix, 'prefix');
      const rowList = Tensor.fromArray(ctx, [M], 'u32', x.rows, 'rows');
      // Garbage first: every value the kernel owns must be written.
      const perPosition = Tensor.fromArray(
        ctx,
        [batch, positions],
        'f32',
        new Array<number>(batch * positions).fill(9),
        'per-position',
      );
      const loss = Tensor.empty(ctx, [1], 'f32', 'loss');
      const gradPred = Tensor.fromArray(
        ctx,
        [M, values],
        'f32',
        new Array<number>(M * values).fill(9),
        'grad pred',
      );
      await runOnce(
        ctx,
        await preparePatchMseLoss(ctx, {
          pred,
          targets,
          prefixLengths,
          rows: rowList,
          perPosition,
          loss,
          gradPred,
        }),
      );
      return readBackAndFree({ perPosition, loss, gradPred }, [
        pred,
        targets,
        prefixLengths,
        rowList,
        perPosition,
        loss,
        gradPred,
      ]);
    },
    grade: (x, got) => {
      const want = patchMseLossReference(x.pred, x.targets, x.prefix, shape);
      const full = patchMseLossBackwardReference(x.pred, x.targets, x.prefix, shape);
      const grad = x.rows.flatMap((r) =>
        r === NO_ROW
          ? new Array<number>(values).fill(0)
          : Array.from(full.subarray(r * values, (r + 1) * values)),
      );
      const tol = (w: ArrayLike<number>) => {
        let scale = 0;
        for (let i = 0; i < w.length; i++) scale = Math.max(scale, Math.abs(w[i]));
        return (i: number) => 1e-6 * scale + 2e-5 * Math.abs(w[i]);
      };
      return Math.max(
        worstRatio(got.perPosition, want.perPosition, tol(want.perPosition)),
        worstRatio(got.loss, [want.loss], tol([want.loss])),
        worstRatio(got.gradPred, grad, tol(grad)),
      );
    },
  };
}
