/**
 * Fused prefix-causal multi-head attention on the GPU, forward and backward, flash-attention
 * style (online softmax; the T×T scores never reach global memory):
 *   - `shaders/attention_forward.wgsl`: o = softmax(q·kᵀ/√dh + mask)·v and the log-sum-exp L;
 *   - `shaders/attention_backward_preprocess.wgsl`: Δ = rowsum(dO ∘ o);
 *   - `shaders/attention_backward_dkdv.wgsl`: dK, dV (one workgroup per key block);
 *   - `shaders/attention_backward_dq.wgsl`: dQ (one workgroup per query block);
 *   - or, for short sequences, `shaders/attention_backward_short.wgsl`: the whole backward
 *     in one dispatch (./attentionBackwardShort.ts; the choice: ./attentionPlan.ts).
 *
 * Layouts follow ml-aim: qkv is [B, T, 3·D] (the qkv Linear's output: [q ; k ; v] along the
 * last axis, each third split into H heads of dh = D/H contiguous columns), o is [B, T, D],
 * L is [B, H, T], dqkv has qkv's layout. `prefixLengths` is a u32 [B]: query i of sample b
 * may attend key j iff j < S_b or j ≤ i (S_b ≥ T: bidirectional; 0 or 1: causal).
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, type DispatchCost, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformBuffer, uniformU32 } from '../gpu/uniforms';
import type { AttentionShape } from '../reference/attention';
import { prepareAttentionBackwardShort } from './attentionBackwardShort';
import { chooseAttentionBackward, type AttentionBackwardKernel } from './attentionPlan';
import { dims, requireDistinct, requireDtype, requireShape } from './checks';
import { flatGridFor, flatKernel } from './flat';

export type { AttentionShape } from '../reference/attention';

/** Largest head dim the kernels' register tiles are sized for. */
export const ATTENTION_MAX_HEAD_DIM = 128;

/** The block sizes (override constants) of one kernel: queries and keys per tile. */
export interface AttentionBlocks {
  query: number;
  key: number;
}

export interface AttentionBlockSizes {
  forward: AttentionBlocks;
  dkdv: AttentionBlocks;
  dq: AttentionBlocks;
}

/**
 * Block sizes per head dim, the largest that keep each kernel's shared memory within the
 * 16 KiB every WebGPU device offers (see `attentionWorkgroupBytes`) and its per-invocation
 * tiles within the shaders' register arrays. Tuning on real GPUs starts here.
 */
export function attentionBlockSizes(headDim: number): AttentionBlockSizes {
  const padded = paddedHeadDim(headDim);
  if (padded <= 32) {
    return {
      forward: { query: 32, key: 32 },
      dkdv: { query: 8, key: 32 },
      dq: { query: 32, key: 16 },
    };
  }
  if (padded <= 64) {
    return {
      forward: { query: 32, key: 16 },
      dkdv: { query: 8, key: 16 },
      dq: { query: 16, key: 8 },
    };
  }
  return {
    forward: { query: 16, key: 8 },
    dkdv: { query: 4, key: 8 },
    dq: { query: 8, key: 4 },
  };
}

export function paddedHeadDim(headDim: number): number {
  return Math.ceil(headDim / 8) * 8;
}

/** Bytes of workgroup memory a kernel declares for these block sizes (mirrors the WGSL). */
export function attentionWorkgroupBytes(
  kernel: keyof AttentionBlockSizes,
  headDim: number,
  { query: q, key: k }: AttentionBlocks,
): number {
  const d = paddedHeadDim(headDim);
  const floats =
    kernel === 'forward'
      ? d * (q + 1) + d * (k + 1) + k * q + 8 * q // Q, K/V (padded strides), P, row shares
      : kernel === 'dkdv'
        ? 2 * d * k + 2 * d * (q + 1) + 2 * q * k + 2 * q // K, V, Q, dO, P, dS, L, Δ
        : 2 * d * (q + 1) + 2 * d * (k + 1) + k * q + 2 * q; // Q, dO, K, V (padded), dS, L, Δ
  return 4 * floats;
}

/** Shape of an attention problem from qkv's shape [B, T, 3D] and the number of heads. */
export function attentionShape(qkvShape: readonly number[], heads: number): AttentionShape {
  if (qkvShape.length !== 3) {
    throw new RangeError(`attention: qkv is ${dims(qkvShape)}, expected [batch, tokens, 3·dim]`);
  }
  const [batch, seqLen, width] = qkvShape;
  if (!Number.isInteger(heads) || heads < 1) {
    throw new RangeError(`attention: heads must be a positive integer, got ${heads}`);
  }
  if (batch < 1 || seqLen < 1 || width < 1) {
    throw new RangeError(`attention: qkv ${dims(qkvShape)} has an empty dimension`);
  }
  if (width % (3 * heads) !== 0) {
    throw new RangeError(
      `attention: qkv's last dimension ${width} is not 3 × heads (${heads}) × head dim`,
    );
  }
  const headDim = width / (3 * heads);
  if (headDim > ATTENTION_MAX_HEAD_DIM) {
    throw new RangeError(
      `attention: head dim ${headDim} exceeds the supported maximum ${ATTENTION_MAX_HEAD_DIM}`,
    );
  }
  return { batch, seqLen, heads, headDim };
}

function requireTensor(
  what: string,
  t: Tensor,
  shape: readonly number[],
  dtype: 'f32' | 'u32',
): void {
  requireDtype('attention', what, t, dtype);
  requireShape('attention', what, t, shape);
}

function paramsUniform(ctx: GpuContext, label: string, s: AttentionShape): GPUBuffer {
  return uniformBuffer(ctx, label, [
    ['u32', s.seqLen],
    ['u32', s.heads],
    ['u32', s.heads * s.headDim],
    ['f32', 1 / Math.sqrt(s.headDim)],
  ]);
}

function blockConstants(headDim: number, blocks: AttentionBlocks): Record<string, number> {
  return { HEAD_DIM: headDim, BLOCK_Q: blocks.query, BLOCK_K: blocks.key };
}

export interface AttentionOptions {
  heads: number;
  /** The backward's kernels; chosen from the adapter and the shape when absent (attentionPlan). */
  backward?: AttentionBackwardKernel;
}

export interface AttentionForwardTensors {
  /** [B, T, 3·D]: the qkv Linear's output. */
  qkv: Tensor<'f32'>;
  /** u32 [B]: S_b per sample. */
  prefixLengths: Tensor<'u32'>;
  /** [B, T, D]. */
  out: Tensor<'f32'>;
  /** [B, H, T]: per-row log-sum-exp, for the backward. */
  lse: Tensor<'f32'>;
}

export interface AttentionBackwardTensors {
  /** The forward's inputs and outputs. */
  qkv: Tensor<'f32'>;
  out: Tensor<'f32'>;
  lse: Tensor<'f32'>;
  prefixLengths: Tensor<'u32'>;
  /** [B, T, D]: the gradient with respect to out. */
  dOut: Tensor<'f32'>;
  /** qkv's shape. */
  dQkv: Tensor<'f32'>;
}

/**
 * The step profile's cost of an attention dispatch: `products` T×T×dh matrix products per
 * (batch, head) at 2 FLOPs a multiply-add, counted over the full T×T (an upper bound: the
 * prefix-causal mask lets the kernels skip blocks); bytes as numbers of [B, T, D]-sized
 * tensors read and written plus `rowValues` per-row values (lse, Δ) read and written.
 */
function attentionCost(
  s: AttentionShape,
  products: number,
  io: { tokensRead: number; tokensWritten: number; rowsRead: number; rowsWritten: number },
): DispatchCost {
  const tokenValues = s.batch * s.seqLen * s.heads * s.headDim;
  const rowValues = s.batch * s.heads * s.seqLen;
  return {
    flops: products * 2 * s.batch * s.heads * s.seqLen * s.seqLen * s.headDim,
    bytesRead: 4 * (io.tokensRead * tokenValues + io.rowsRead * rowValues + s.batch),
    bytesWritten: 4 * (io.tokensWritten * tokenValues + io.rowsWritten * rowValues),
  };
}

/** Forward: out = attention(qkv), lse = per-row log-sum-exp (for the backward). */
export async function prepareAttentionForward(
  ctx: GpuContext,
  { qkv, prefixLengths, out, lse }: AttentionForwardTensors,
  { heads }: AttentionOptions,
): Promise<PreparedDispatch[]> {
  const s = attentionShape(qkv.shape, heads);
  requireTensor('qkv', qkv, qkv.shape, 'f32');
  requireTensor('prefixLengths', prefixLengths, [s.batch], 'u32');
  requireTensor('out', out, [s.batch, s.seqLen, s.heads * s.headDim], 'f32');
  requireTensor('lse', lse, [s.batch, s.heads, s.seqLen], 'f32');
  requireDistinct('attention', { out, lse }, { qkv, prefixLengths });
  const blocks = attentionBlockSizes(s.headDim).forward;
  const kernel = await ctx.kernels.get({
    shader: 'attention_forward',
    constants: blockConstants(s.headDim, blocks),
  });
  const params = paramsUniform(ctx, `${kernel.name} params`, s);
  return [
    createDispatch(
      ctx,
      kernel,
      [qkv.binding, prefixLengths.binding, out.binding, lse.binding, params],
      [Math.ceil(s.seqLen / blocks.query), s.heads, s.batch],
      [params],
      // S = QKᵀ and O = PV; reads Q, K, V, writes O and lse.
      attentionCost(s, 2, { tokensRead: 3, tokensWritten: 1, rowsRead: 0, rowsWritten: 1 }),
    ),
  ];
}

/** Shape of the backward's scratch Δ = rowsum(dO ∘ O): one value per (batch, head, row). */
export function attentionDeltaShape(s: AttentionShape): [number, number, number] {
  return [s.batch, s.heads, s.seqLen];
}

/**
 * Backward: dQkv = d(Σ dOut·out)/d qkv, from the forward's out and lse. For short sequences
 * one dispatch (attention_backward_short.wgsl); else three, in order: Δ = rowsum(dOut ∘ out)
 * (a scratch buffer owned by the dispatches), dK/dV, dQ.
 */
export async function prepareAttentionBackward(
  ctx: GpuContext,
  tensors: AttentionBackwardTensors,
  { heads, backward }: AttentionOptions,
): Promise<PreparedDispatch[]> {
  const { qkv, out, lse, dOut, prefixLengths, dQkv } = tensors;
  const s = attentionShape(qkv.shape, heads);
  const outShape = [s.batch, s.seqLen, s.heads * s.headDim];
  requireTensor('qkv', qkv, qkv.shape, 'f32');
  requireTensor('out', out, outShape, 'f32');
  requireTensor('dOut', dOut, outShape, 'f32');
  requireTensor('lse', lse, [s.batch, s.heads, s.seqLen], 'f32');
  requireTensor('prefixLengths', prefixLengths, [s.batch], 'u32');
  requireTensor('dQkv', dQkv, qkv.shape, 'f32');
  requireDistinct('attention', { dQkv }, { qkv, out, lse, dOut, prefixLengths });
  const plan = chooseAttentionBackward(ctx.choices, s, backward);
  if (plan.kernel === 'short') return [await prepareAttentionBackwardShort(ctx, tensors, s, plan)];
  const blocks = attentionBlockSizes(s.headDim);
  const [preprocess, dkdv, dq] = await Promise.all([
    flatKernel(ctx, { shader: 'attention_backward_preprocess' }),
    ctx.kernels.get({
      shader: 'attention_backward_dkdv',
      constants: blockConstants(s.headDim, blocks.dkdv),
    }),
    ctx.kernels.get({
      shader: 'attention_backward_dq',
      constants: blockConstants(s.headDim, blocks.dq),
    }),
  ]);

  const delta = Tensor.empty(ctx, attentionDeltaShape(s), 'f32', 'attention Δ').buffer;
  const rows = s.batch * s.seqLen * s.heads;
  const preprocessParams = uniformU32(ctx, `${preprocess.name} params`, [
    s.seqLen,
    s.heads,
    s.headDim,
    rows,
  ]);
  const dkdvParams = paramsUniform(ctx, `${dkdv.name} params`, s);
  const dqParams = paramsUniform(ctx, `${dq.name} params`, s);
  const shared = [
    qkv.binding,
    dOut.binding,
    lse.binding,
    delta,
    prefixLengths.binding,
    dQkv.binding,
  ];
  return [
    createDispatch(
      ctx,
      preprocess,
      [dOut.binding, out.binding, delta, preprocessParams],
      flatGridFor(ctx, rows),
      [preprocessParams],
      // Δ = rowsum(dO ∘ O).
      {
        ...attentionCost(s, 0, { tokensRead: 2, tokensWritten: 0, rowsRead: 0, rowsWritten: 1 }),
        flops: 2 * rows * s.headDim,
      },
    ),
    createDispatch(
      ctx,
      dkdv,
      [...shared, dkdvParams],
      [Math.ceil(s.seqLen / blocks.dkdv.key), s.heads, s.batch],
      [dkdvParams],
      // S, dP = dO·Vᵀ, dV = Pᵀ·dO, dK = dSᵀ·Q; reads Q, K, V, dO, lse, Δ; writes dK, dV.
      attentionCost(s, 4, { tokensRead: 4, tokensWritten: 2, rowsRead: 2, rowsWritten: 0 }),
    ),
    // The last dispatch owns Δ, so that releasing the dispatches in order frees it last.
    createDispatch(
      ctx,
      dq,
      [...shared, dqParams],
      [Math.ceil(s.seqLen / blocks.dq.query), s.heads, s.batch],
      [dqParams, delta],
      // S, dP = dO·Vᵀ, dQ = dS·K; reads Q, K, V, dO, lse, Δ; writes dQ.
      attentionCost(s, 3, { tokensRead: 4, tokensWritten: 1, rowsRead: 2, rowsWritten: 0 }),
    ),
  ];
}

/** Runs the forward once, allocating `out` and `lse` unless given. */
export async function attentionForward(
  ctx: GpuContext,
  t: Pick<AttentionForwardTensors, 'qkv' | 'prefixLengths'> &
    Partial<Pick<AttentionForwardTensors, 'out' | 'lse'>>,
  opts: AttentionOptions,
): Promise<{ out: Tensor<'f32'>; lse: Tensor<'f32'> }> {
  const s = attentionShape(t.qkv.shape, opts.heads);
  const out =
    t.out ?? Tensor.empty(ctx, [s.batch, s.seqLen, s.heads * s.headDim], 'f32', 'attention out');
  const lse = t.lse ?? Tensor.empty(ctx, [s.batch, s.heads, s.seqLen], 'f32', 'attention L');
  await runOnce(ctx, await prepareAttentionForward(ctx, { ...t, out, lse }, opts));
  return { out, lse };
}

/** Runs the backward once, allocating `dQkv` unless given. */
export async function attentionBackward(
  ctx: GpuContext,
  t: Omit<AttentionBackwardTensors, 'dQkv'> & { dQkv?: Tensor<'f32'> },
  opts: AttentionOptions,
): Promise<Tensor<'f32'>> {
  const dQkv = t.dQkv ?? Tensor.empty(ctx, t.qkv.shape, 'f32', 'attention dqkv');
  await runOnce(ctx, await prepareAttentionBackward(ctx, { ...t, dQkv }, opts));
  return dQkv;
}
