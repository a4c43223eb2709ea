/**
 * Elementwise f32 kernels (`shaders/elementwise.wgsl`, a flat kernel): add, accumulate
 * (y += α·x), scale (into a new buffer or in place) and fill.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, streamCost, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformBuffer } from '../gpu/uniforms';
import { requireDistinct, requireSameSize } from './checks';
import { flatGridFor, flatKernel } from './flat';

const OPS = { add: 0, accumulate: 1, scale: 2, scaleInPlace: 3, fill: 4 } as const;

/** Values read, written and operations per output value of each op (the step profile's cost). */
const OP_COST = {
  add: { read: 2, written: 1, flops: 1 },
  accumulate: { read: 2, written: 1, flops: 2 },
  scale: { read: 1, written: 1, flops: 1 },
  scaleInPlace: { read: 1, written: 1, flops: 1 },
  fill: { read: 0, written: 1, flops: 0 },
} as const;

async function prepareElementwise(
  ctx: GpuContext,
  op: keyof typeof OPS,
  y: Tensor<'f32'>,
  alpha: number,
  x?: Tensor<'f32'>,
  b?: Tensor<'f32'>,
): Promise<PreparedDispatch[]> {
  const kernel = await flatKernel(ctx, { shader: 'elementwise', constants: { OP: OPS[op] } });
  const params = uniformBuffer(ctx, `${kernel.name} params`, [
    ['u32', y.size],
    ['f32', alpha],
  ]);
  const read = ctx.placeholder('read');
  return [
    createDispatch(
      ctx,
      kernel,
      [x?.binding ?? read, y.binding, params, b?.binding ?? read],
      flatGridFor(ctx, y.size),
      [params],
      streamCost(y.size, OP_COST[op]),
    ),
  ];
}

export interface AddTensors {
  a: Tensor<'f32'>;
  b: Tensor<'f32'>;
  /** Same number of values; a third buffer (use accumulate for a += b). */
  out: Tensor<'f32'>;
}

/** out = a + b. */
export function prepareAdd(ctx: GpuContext, t: AddTensors): Promise<PreparedDispatch[]> {
  requireSameSize('add', 'b', t.b, 'a', t.a);
  requireSameSize('add', 'out', t.out, 'a', t.a);
  requireDistinct('add', { out: t.out }, { a: t.a, b: t.b });
  return prepareElementwise(ctx, 'add', t.out, 0, t.a, t.b);
}

export interface AccumulateTensors {
  target: Tensor<'f32'>;
  /** Not target itself: scale target by 2 for that. */
  x: Tensor<'f32'>;
}

export interface AccumulateOptions {
  /** Default 1 (exact: plain gradient accumulation). */
  alpha?: number;
}

/** target += alpha·x. */
export function prepareAccumulate(
  ctx: GpuContext,
  t: AccumulateTensors,
  opts: AccumulateOptions = {},
): Promise<PreparedDispatch[]> {
  requireSameSize('accumulate', 'x', t.x, 'target', t.target);
  requireDistinct('accumulate', { target: t.target }, { x: t.x });
  return prepareElementwise(ctx, 'accumulate', t.target, opts.alpha ?? 1, t.x);
}

export interface ScaleTensors {
  x: Tensor<'f32'>;
  /** Omitted (or x itself): x is scaled in place. */
  out?: Tensor<'f32'>;
}

export interface ScaleOptions {
  alpha: number;
}

/** out = alpha·x, or x *= alpha in place. */
export function prepareScale(
  ctx: GpuContext,
  t: ScaleTensors,
  opts: ScaleOptions,
): Promise<PreparedDispatch[]> {
  if (!t.out || (t.out.buffer === t.x.buffer && t.out.byteOffset === t.x.byteOffset))
    return prepareElementwise(ctx, 'scaleInPlace', t.x, opts.alpha);
  requireSameSize('scale', 'out', t.out, 'x', t.x);
  return prepareElementwise(ctx, 'scale', t.out, opts.alpha, t.x);
}

export interface FillOptions {
  value: number;
}

/** Every value of y set to `value` (zeroing gradient accumulators within a recorded step). */
export function prepareFill(
  ctx: GpuContext,
  t: { y: Tensor<'f32'> },
  opts: FillOptions,
): Promise<PreparedDispatch[]> {
  return prepareElementwise(ctx, 'fill', t.y, opts.value);
}

/** a + b into `out` (allocated with a's shape unless given). */
export async function add(
  ctx: GpuContext,
  t: Omit<AddTensors, 'out'> & { out?: Tensor<'f32'> },
): Promise<Tensor<'f32'>> {
  const out = t.out ?? Tensor.empty(ctx, t.a.shape, 'f32', 'add out');
  await runOnce(ctx, await prepareAdd(ctx, { ...t, out }));
  return out;
}

/** target += alpha·x; returns target. */
export async function accumulate(
  ctx: GpuContext,
  t: AccumulateTensors,
  opts: AccumulateOptions = {},
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, await prepareAccumulate(ctx, t, opts));
  return t.target;
}

/** alpha·x into `out`, or in place (returning x) when out is omitted. */
export async function scale(
  ctx: GpuContext,
  t: ScaleTensors,
  opts: ScaleOptions,
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, await prepareScale(ctx, t, opts));
  return t.out ?? t.x;
}

/** Sets every value of y to `value`; returns y. */
export async function fill(
  ctx: GpuContext,
  t: { y: Tensor<'f32'> },
  opts: FillOptions,
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, await prepareFill(ctx, t, opts));
  return t.y;
}
