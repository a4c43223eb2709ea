/**
 * The attentive probe's pooling (ml-aim's AttentionPoolingClassifier): one learned query, the
 * cls_token, attending over each sample's N tokens per head, 1/√dh scaling —
 *   prepareProbeAttentionPoolForward  (shaders/probe_attention_pool_forward.wgsl)
 *   prepareProbeAttentionPoolBackward (shaders/probe_attention_pool_backward.wgsl)
 * k = x̂·Wkᵀ and v = x̂·Wvᵀ come from matmuls before the forward; the backward's dk and dv
 * feed the weight-gradient matmuls after it, and its per-sample d query a column sum.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, flatGrid, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformBuffer } from '../gpu/uniforms';
import { dims, requireDistinct, requireSize } from './checks';

/** Tokens a sample may have: the shared-memory score array of both shaders (MAX_TOKENS). */
export const PROBE_POOL_MAX_TOKENS = 1024;

export interface ProbePoolShape {
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
}

function checkShape(op: string, s: ProbePoolShape): void {
  for (const [name, v] of Object.entries(s))
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
  if (s.tokens > PROBE_POOL_MAX_TOKENS)
    throw new RangeError(
      `${op}: ${s.tokens} tokens per image exceed the kernel's ${PROBE_POOL_MAX_TOKENS}`,
    );
}

function params(ctx: GpuContext, label: string, s: ProbePoolShape): GPUBuffer {
  return uniformBuffer(ctx, label, [
    ['u32', s.batch],
    ['u32', s.tokens],
    ['u32', s.heads],
    ['u32', s.headDim],
    ['f32', 1 / Math.sqrt(s.headDim)],
  ]);
}

export interface ProbePoolForwardTensors {
  /** The query (cls_token), [D] (ml-aim stores [1, 1, D]). */
  q: Tensor<'f32'>;
  /** [B, N, D]. */
  k: Tensor<'f32'>;
  v: Tensor<'f32'>;
  /** [B, D] out. */
  pooled: Tensor<'f32'>;
  /** [B, H, N] out: the softmax probabilities, kept for the backward. */
  probs: Tensor<'f32'>;
}

export async function prepareProbeAttentionPoolForward(
  ctx: GpuContext,
  t: ProbePoolForwardTensors,
  s: ProbePoolShape,
): Promise<PreparedDispatch[]> {
  const op = 'probe attention pool';
  checkShape(op, s);
  const D = s.heads * s.headDim;
  const tokens = s.batch * s.tokens * D;
  requireSize(op, 'q', t.q, D);
  requireSize(op, 'k', t.k, tokens, dims([s.batch, s.tokens, D]));
  requireSize(op, 'v', t.v, tokens, dims([s.batch, s.tokens, D]));
  requireSize(op, 'pooled', t.pooled, s.batch * D, dims([s.batch, D]));
  requireSize(
    op,
    'probs',
    t.probs,
    s.batch * s.heads * s.tokens,
    dims([s.batch, s.heads, s.tokens]),
  );
  requireDistinct(op, { pooled: t.pooled, probs: t.probs }, { q: t.q, k: t.k, v: t.v });
  const kernel = await ctx.kernels.get({ shader: 'probe_attention_pool_forward' });
  const uniform = params(ctx, `${kernel.name} params`, s);
  return [
    createDispatch(
      ctx,
      kernel,
      [t.q.binding, t.k.binding, t.v.binding, t.pooled.binding, t.probs.binding, uniform],
      flatGrid(ctx, s.batch * s.heads),
      [uniform],
      { flops: 4 * tokens, bytesRead: 8 * tokens, bytesWritten: 4 * (s.batch * D) },
    ),
  ];
}

export interface ProbePoolBackwardTensors {
  q: Tensor<'f32'>;
  k: Tensor<'f32'>;
  v: Tensor<'f32'>;
  /** The forward's outputs. */
  probs: Tensor<'f32'>;
  pooled: Tensor<'f32'>;
  /** [B, D]: d loss / d pooled. */
  dPooled: Tensor<'f32'>;
  /** [B, D] out: each sample's d loss / d query (sum them for the cls_token's gradient). */
  dqSample: Tensor<'f32'>;
  /** [B, N, D] out. */
  dk: Tensor<'f32'>;
  dv: Tensor<'f32'>;
}

export async function prepareProbeAttentionPoolBackward(
  ctx: GpuContext,
  t: ProbePoolBackwardTensors,
  s: ProbePoolShape,
): Promise<PreparedDispatch[]> {
  const op = 'probe attention pool backward';
  checkShape(op, s);
  const D = s.heads * s.headDim;
  const tokens = s.batch * s.tokens * D;
  const tokenShape = dims([s.batch, s.tokens, D]);
  requireSize(op, 'q', t.q, D);
  for (const [name, x] of Object.entries({ k: t.k, v: t.v, dk: t.dk, dv: t.dv }))
    requireSize(op, name, x, tokens, tokenShape);
  for (const [name, x] of Object.entries({
    pooled: t.pooled,
    dPooled: t.dPooled,
    dqSample: t.dqSample,
  }))
    requireSize(op, name, x, s.batch * D, dims([s.batch, D]));
  requireSize(
    op,
    'probs',
    t.probs,
    s.batch * s.heads * s.tokens,
    dims([s.batch, s.heads, s.tokens]),
  );
  requireDistinct(
    op,
    { dqSample: t.dqSample, dk: t.dk, dv: t.dv },
    { q: t.q, k: t.k, v: t.v, probs: t.probs, pooled: t.pooled, dPooled: t.dPooled },
  );
  const kernel = await ctx.kernels.get({ shader: 'probe_attention_pool_backward' });
  const uniform = params(ctx, `${kernel.name} params`, s);
  return [
    createDispatch(
      ctx,
      kernel,
      [
        t.q.binding,
        t.k.binding,
        t.v.binding,
        t.probs.binding,
        t.pooled.binding,
        t.dPooled.binding,
        t.dqSample.binding,
        t.dk.binding,
        t.dv.binding,
        uniform,
      ],
      flatGrid(ctx, s.batch * s.heads),
      [uniform],
      { flops: 8 * tokens, bytesRead: 8 * tokens, bytesWritten: 8 * tokens },
    ),
  ];
}

/** One-shot forward (tests). */
export async function probeAttentionPoolForward(
  ctx: GpuContext,
  t: Pick<ProbePoolForwardTensors, 'q' | 'k' | 'v'>,
  s: ProbePoolShape,
): Promise<{ pooled: Tensor<'f32'>; probs: Tensor<'f32'> }> {
  const D = s.heads * s.headDim;
  const pooled = Tensor.empty(ctx, [s.batch, D], 'f32', 'probe pooled');
  const probs = Tensor.empty(ctx, [s.batch, s.heads, s.tokens], 'f32', 'probe probs');
  await runOnce(ctx, await prepareProbeAttentionPoolForward(ctx, { ...t, pooled, probs }, s));
  return { pooled, probs };
}

/** One-shot backward (tests). */
export async function probeAttentionPoolBackward(
  ctx: GpuContext,
  t: Omit<ProbePoolBackwardTensors, 'dqSample' | 'dk' | 'dv'>,
  s: ProbePoolShape,
): Promise<{ dqSample: Tensor<'f32'>; dk: Tensor<'f32'>; dv: Tensor<'f32'> }> {
  const D = s.heads * s.headDim;
  const dqSample = Tensor.empty(ctx, [s.batch, D], 'f32', 'probe dq');
  const dk = Tensor.empty(ctx, [s.batch, s.tokens, D], 'f32', 'probe dk');
  const dv = Tensor.empty(ctx, [s.batch, s.tokens, D], 'f32', 'probe dv');
  await runOnce(ctx, await prepareProbeAttentionPoolBackward(ctx, { ...t, dqSample, dk, dv }, s));
  return { dqSample, dk, dv };
}
