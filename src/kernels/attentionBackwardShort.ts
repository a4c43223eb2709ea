/**
 * The attention backward in one dispatch for short sequences
 * (`shaders/attention_backward_short.wgsl`, one workgroup per (sample, head)); chosen by
 * `prepareAttentionBackward` (src/kernels/attention.ts) through `chooseAttentionBackward`
 * (src/kernels/attentionPlan.ts), which also checks the shape. Tensors are validated by the
 * caller.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, type DispatchCost, type PreparedDispatch } from '../gpu/dispatch';
import { uniformBuffer } from '../gpu/uniforms';
import type { AttentionShape } from '../reference/attention';
import type { AttentionBackwardTensors } from './attention';
import { SHORT_ATTENTION_MAX_SEQ } from './attentionPlan';

/**
 * Its cost: S = QKᵀ, dP = dO·Vᵀ, dV = Pᵀ·dO, dK = dSᵀ·Q, dQ = dS·K (five T×T×dh products,
 * counted over the full T×T: an upper bound, as for the other attention kernels) and Δ.
 * Reads K, V, o and, once per key block, Q and dO; dQ is re-read and rewritten once per
 * extra key block (none when one block covers T); writes dQ, dK, dV; reads L and S_b.
 */
export function shortAttentionBackwardCost(s: AttentionShape, keyBlock: number): DispatchCost {
  const tokenValues = s.batch * s.seqLen * s.heads * s.headDim;
  const rowValues = s.batch * s.heads * s.seqLen;
  const keyBlocks = Math.ceil(s.seqLen / keyBlock);
  return {
    flops: 5 * 2 * s.batch * s.heads * s.seqLen * s.seqLen * s.headDim + 2 * tokenValues,
    bytesRead: 4 * ((3 + 2 * keyBlocks + (keyBlocks - 1)) * tokenValues + rowValues + s.batch),
    bytesWritten: 4 * (3 + (keyBlocks - 1)) * tokenValues,
  };
}

export async function prepareAttentionBackwardShort(
  ctx: GpuContext,
  { qkv, out, lse, dOut, prefixLengths, dQkv }: AttentionBackwardTensors,
  s: AttentionShape,
  plan: { keyBlock: number; workgroupBytes: number },
): Promise<PreparedDispatch> {
  ctx.requireForChoice('attention_backward_short', {
    limits: { maxComputeWorkgroupStorageSize: plan.workgroupBytes },
  });
  const kernel = await ctx.kernels.get({
    shader: 'attention_backward_short',
    constants: { HEAD_DIM: s.headDim, BLOCK_K: plan.keyBlock, MAX_SEQ: SHORT_ATTENTION_MAX_SEQ },
  });
  const params = uniformBuffer(ctx, `${kernel.name} params`, [
    ['u32', s.seqLen],
    ['u32', s.heads],
    ['u32', s.heads * s.headDim],
    ['f32', 1 / Math.sqrt(s.headDim)],
  ]);
  return createDispatch(
    ctx,
    kernel,
    [
      qkv.binding,
      out.binding,
      dOut.binding,
      lse.binding,
      prefixLengths.binding,
      dQkv.binding,
      params,
    ],
    [1, s.heads, s.batch],
    [params],
    shortAttentionBackwardCost(s, plan.keyBlock),
  );
}
