/**
 * The floating-point work of one training step, from the model's shape alone — so the page can
 * say what a run will cost before anything is built (issue 15: "the cost before pressing
 * Train"). It counts what the kernels declare as their cost (each dispatch's `cost.flops`,
 * which the step profile sums): matrix products at 2 FLOPs per multiply-add — forward, input
 * gradient and weight gradient (the patch embedding has no input gradient) — and attention's
 * T×T×d_h products per block over the full T×T: 2 forward and 7 backward (4 for dK/dV, 3
 * for dQ), or 5 where the one-dispatch short backward takes the shape (attentionPlan.ts). The
 * prediction head runs on the rows the loss counts (about half the sequence with prefix
 * attention, all but one position without). Normalisations, activations and the optimizer are
 * memory-bound and left out (a few per cent of the work at these sizes).
 */
import { shortAttentionRefusal } from '../kernels/attentionPlan';
import type { AimConfig } from './config';
import { shapeFromConfig } from './shape';

export interface StepFlops {
  trunk: number;
  attention: number;
  head: number;
  total: number;
}

/** Rows of one sample the prediction head runs on, on average (prefix S ~ U{1 … K−1}). */
export function expectedHeadRows(tokens: number, prefix: boolean): number {
  if (tokens < 2) return 0;
  // Counted rows: positions i with S ≤ i + 1 ≤ K − 1, i.e. K − S of them.
  return prefix ? tokens - tokens / 2 : tokens - 1;
}

export function trainingStepFlops(
  config: AimConfig,
  batch: number,
  { prefix }: { prefix: boolean },
): StepFlops {
  const s = shapeFromConfig(config);
  const tokens = (s.imageHeight / s.patchHeight) * (s.imageWidth / s.patchWidth);
  const patchValues = s.channels * s.patchHeight * s.patchWidth;
  const d = s.width;
  const rows = batch * tokens;
  // 2·m·n·k for the product, ×3 with the input and weight gradients.
  const linear = (m: number, n: number, k: number, withInputGradient = true) =>
    2 * m * n * k * (withInputGradient ? 3 : 2);
  const perBlock =
    linear(rows, 3 * d, d) +
    linear(rows, d, d) +
    linear(rows, s.mlpHidden, d) +
    linear(rows, d, s.mlpHidden);
  const trunk = linear(rows, d, patchValues, false) + s.depth * perBlock;
  const headShape = { batch, seqLen: tokens, heads: s.heads, headDim: d / s.heads };
  const products = 2 + (shortAttentionRefusal(headShape) === undefined ? 5 : 7);
  const attention = s.depth * products * 2 * batch * tokens * tokens * d;
  const headRows = batch * expectedHeadRows(tokens, prefix);
  let head = 0;
  if (s.head.kind === 'prediction') {
    const h = s.head;
    head =
      linear(headRows, h.width, d) +
      h.depth * (linear(headRows, h.hidden, h.width) + linear(headRows, h.width, h.hidden)) +
      linear(headRows, h.patchValues, h.width);
  } else if (s.head.kind === 'projection') {
    head = linear(headRows, s.head.patchValues, d);
  }
  return { trunk, attention, head, total: trunk + attention + head };
}
