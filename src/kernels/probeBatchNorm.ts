/**
 * The probes' BatchNorm1d without affine parameters (ml-aim's AttentionPoolingClassifier
 * `bn`, eps 1e-6, momentum 0.1) and the linear probe's token mean:
 *   prepareProbeBatchNormStats  (shaders/probe_bn_stats.wgsl)  per-channel batch mean and
 *                               1/std over every token of the batch, and the running update
 *   prepareProbeBatchNormApply  (shaders/probe_bn_apply.wgsl)  normalise with the batch's or
 *                               the running statistics
 *   prepareProbeMeanPool        (shaders/probe_mean_pool.wgsl) [B, N, D] → [B, D]
 * Both BatchNorm kernels can read their batch from a feature bank through a sample index list
 * (`index`), so a probe's minibatch is never copied out of the bank.
 *
 * There is no BatchNorm backward: it has no parameters and the trunk before it is frozen, so
 * no gradient is needed below the normalised features.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, streamCost, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformBuffer, uniformU32 } from '../gpu/uniforms';
import { dims, requireDistinct, requireDtype, requireSize } from './checks';
import { flatGridFor, flatKernel } from './flat';

/** Channels per workgroup of probe_bn_stats.wgsl (TILE_COLS there). */
const STATS_TILE_COLS = 64;

export interface ProbeBatchNormShape {
  /** Samples in the batch (B). */
  batch: number;
  /** Tokens per sample (N; 1 for the linear probe's pooled features). */
  tokens: number;
  /** Channels (D). */
  dim: number;
}

export interface ProbeBatchNormStatsTensors {
  /** [B, N, D], or a bank [S, N, D] read through `index`. */
  x: Tensor<'f32'>;
  /** u32 [B]: bank samples of the batch (omitted: x is the batch). */
  index?: Tensor<'u32'>;
  /** [2, D] out: mean, then 1/sqrt(biased var + eps). */
  stats: Tensor<'f32'>;
  /** [2, D] in/out: running_mean, running_var, updated when given. */
  running?: Tensor<'f32'>;
}

export interface ProbeBatchNormOptions {
  eps?: number;
  momentum?: number;
}

function checkInput(op: string, x: Tensor, index: Tensor | undefined, s: ProbeBatchNormShape) {
  const { batch, tokens, dim } = s;
  for (const [name, v] of Object.entries({ batch, tokens, dim }))
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
  requireDtype(op, 'x', x, 'f32');
  if (index) {
    requireDtype(op, 'index', index, 'u32');
    requireSize(op, 'index', index, batch);
    if (x.size % (tokens * dim) !== 0)
      throw new RangeError(
        `${op}: bank x ${dims(x.shape)} is not a whole number of [${tokens},${dim}] samples`,
      );
  } else requireSize(op, 'x', x, batch * tokens * dim, dims([batch, tokens, dim]));
}

/** Batch statistics (and the running update when `running` is given). */
export async function prepareProbeBatchNormStats(
  ctx: GpuContext,
  t: ProbeBatchNormStatsTensors,
  s: ProbeBatchNormShape,
  opts: ProbeBatchNormOptions = {},
): Promise<PreparedDispatch[]> {
  const op = 'probe BatchNorm stats';
  checkInput(op, t.x, t.index, s);
  const rows = s.batch * s.tokens;
  requireSize(op, 'stats', t.stats, 2 * s.dim, dims([2, s.dim]));
  if (t.running) {
    requireSize(op, 'running', t.running, 2 * s.dim, dims([2, s.dim]));
    // torch: "Expected more than 1 value per channel when training".
    if (rows < 2)
      throw new RangeError(
        `${op}: updating running statistics needs more than one value per channel (B·N = ${rows})`,
      );
  }
  requireDistinct(op, { stats: t.stats, running: t.running }, { x: t.x, index: t.index });
  const constants: Record<string, number> = {};
  if (t.index) constants.GATHER = 1;
  if (t.running) constants.UPDATE_RUNNING = 1;
  const kernel = await ctx.kernels.get({ shader: 'probe_bn_stats', constants });
  const params = uniformBuffer(ctx, `${kernel.name} params`, [
    ['u32', rows],
    ['u32', s.tokens],
    ['u32', s.dim],
    ['f32', opts.eps ?? 1e-6],
    ['f32', opts.momentum ?? 0.1],
  ]);
  return [
    createDispatch(
      ctx,
      kernel,
      [
        t.x.binding,
        t.index?.binding ?? ctx.placeholder('read'),
        t.stats.binding,
        t.running?.binding ?? ctx.placeholder('write'),
        params,
      ],
      [Math.ceil(s.dim / STATS_TILE_COLS)],
      [params],
      // Two passes over the batch.
      { flops: 4 * rows * s.dim, bytesRead: 8 * rows * s.dim, bytesWritten: 16 * s.dim },
    ),
  ];
}

export interface ProbeBatchNormApplyTensors {
  x: Tensor<'f32'>;
  index?: Tensor<'u32'>;
  /** [2, D]: batch mean and 1/std (stats kernel), or with `running` running_mean, running_var. */
  stats: Tensor<'f32'>;
  /** [B, N, D] out. */
  y: Tensor<'f32'>;
}

/** y = (x − mean)·invStd, from the batch's statistics or (`running`) the running ones. */
export async function prepareProbeBatchNormApply(
  ctx: GpuContext,
  t: ProbeBatchNormApplyTensors,
  s: ProbeBatchNormShape,
  opts: ProbeBatchNormOptions & { running?: boolean } = {},
): Promise<PreparedDispatch[]> {
  const op = 'probe BatchNorm apply';
  checkInput(op, t.x, t.index, s);
  const n = s.batch * s.tokens * s.dim;
  requireSize(op, 'stats', t.stats, 2 * s.dim, dims([2, s.dim]));
  requireSize(op, 'y', t.y, n, dims([s.batch, s.tokens, s.dim]));
  requireDistinct(op, { y: t.y }, { x: t.x, index: t.index, stats: t.stats });
  const constants: Record<string, number> = {};
  if (t.index) constants.GATHER = 1;
  if (opts.running) constants.RUNNING = 1;
  const kernel = await flatKernel(ctx, { shader: 'probe_bn_apply', constants });
  const params = uniformBuffer(ctx, `${kernel.name} params`, [
    ['u32', n],
    ['u32', s.tokens],
    ['u32', s.dim],
    ['f32', opts.eps ?? 1e-6],
  ]);
  return [
    createDispatch(
      ctx,
      kernel,
      [
        t.x.binding,
        t.index?.binding ?? ctx.placeholder('read'),
        t.stats.binding,
        t.y.binding,
        params,
      ],
      flatGridFor(ctx, n),
      [params],
      streamCost(n, { read: 1, written: 1, flops: 2 }),
    ),
  ];
}

/** out [B, D] = the mean over the N tokens of x [B, N, D]. */
export async function prepareProbeMeanPool(
  ctx: GpuContext,
  t: { x: Tensor<'f32'>; out: Tensor<'f32'> },
  s: ProbeBatchNormShape,
): Promise<PreparedDispatch[]> {
  const op = 'probe mean pool';
  checkInput(op, t.x, undefined, s);
  const n = s.batch * s.dim;
  requireSize(op, 'out', t.out, n, dims([s.batch, s.dim]));
  requireDistinct(op, { out: t.out }, { x: t.x });
  const kernel = await flatKernel(ctx, { shader: 'probe_mean_pool' });
  const params = uniformU32(ctx, `${kernel.name} params`, [n, s.tokens, s.dim]);
  return [
    createDispatch(
      ctx,
      kernel,
      [t.x.binding, t.out.binding, params],
      flatGridFor(ctx, n),
      [params],
      {
        flops: n * s.tokens,
        bytesRead: 4 * n * s.tokens,
        bytesWritten: 4 * n,
      },
    ),
  ];
}

/** One-shot batch statistics (tests): allocates `stats` unless given. */
export async function probeBatchNormStats(
  ctx: GpuContext,
  t: Omit<ProbeBatchNormStatsTensors, 'stats'> & { stats?: Tensor<'f32'> },
  s: ProbeBatchNormShape,
  opts: ProbeBatchNormOptions = {},
): Promise<Tensor<'f32'>> {
  const stats = t.stats ?? Tensor.empty(ctx, [2, s.dim], 'f32', 'probe bn stats');
  await runOnce(ctx, await prepareProbeBatchNormStats(ctx, { ...t, stats }, s, opts));
  return stats;
}

/** One-shot apply (tests): allocates `y` unless given. */
export async function probeBatchNormApply(
  ctx: GpuContext,
  t: Omit<ProbeBatchNormApplyTensors, 'y'> & { y?: Tensor<'f32'> },
  s: ProbeBatchNormShape,
  opts: ProbeBatchNormOptions & { running?: boolean } = {},
): Promise<Tensor<'f32'>> {
  const y = t.y ?? Tensor.empty(ctx, [s.batch, s.tokens, s.dim], 'f32', 'probe bn y');
  await runOnce(ctx, await prepareProbeBatchNormApply(ctx, { ...t, y }, s, opts));
  return y;
}

/** One-shot mean pool (tests). */
export async function probeMeanPool(
  ctx: GpuContext,
  x: Tensor<'f32'>,
  s: ProbeBatchNormShape,
): Promise<Tensor<'f32'>> {
  const out = Tensor.empty(ctx, [s.batch, s.dim], 'f32', 'probe mean pool');
  await runOnce(ctx, await prepareProbeMeanPool(ctx, { x, out }, s));
  return out;
}
