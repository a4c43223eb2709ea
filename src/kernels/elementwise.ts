/**
 * Elementwise f32 kernels (`shaders/elementwise.wgsl`): add, accumulate (y += α·x), scale
 * (into a new buffer or in place) and fill. Also the 1-D grid helper the other flat
 * kernels (GELU, patchify, positional embedding) share.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, flatGrid, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformBuffer } from '../gpu/uniforms';

/** Invocations per workgroup of every flat (one invocation per value) kernel. */
export const FLAT_WORKGROUP = 256;

/** The grid for one invocation per value of an n-value buffer. */
export function flatGridFor(ctx: GpuContext, n: number): [number, number] {
  return flatGrid(ctx, Math.ceil(n / FLAT_WORKGROUP));
}

function dims(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function requireSameSize(op: string, what: string, t: Tensor, ref: Tensor): void {
  if (t.size !== ref.size) {
    throw new RangeError(
      `${op}: ${what} is ${dims(t.shape)} (${t.size} values), expected ${ref.size} values like ${dims(ref.shape)}`,
    );
  }
}

const OPS = { add: 0, accumulate: 1, scale: 2, scaleInPlace: 3, fill: 4 } as const;

async function prepareElementwise(
  ctx: GpuContext,
  op: keyof typeof OPS,
  y: Tensor<'f32'>,
  alpha: number,
  x?: Tensor<'f32'>,
  b?: Tensor<'f32'>,
): Promise<PreparedDispatch> {
  const kernel = await ctx.kernels.get({ shader: 'elementwise', constants: { OP: OPS[op] } });
  const params = uniformBuffer(ctx, `${kernel.name} params`, [
    ['u32', y.size],
    ['f32', alpha],
  ]);
  const read = ctx.placeholder('read');
  return createDispatch(
    ctx,
    kernel,
    [x?.buffer ?? read, y.buffer, params, b?.buffer ?? read],
    flatGridFor(ctx, y.size),
    [params],
  );
}

/** out = a + b (same number of values; out must be a third buffer). */
export function prepareAdd(
  ctx: GpuContext,
  a: Tensor<'f32'>,
  b: Tensor<'f32'>,
  out: Tensor<'f32'>,
): Promise<PreparedDispatch> {
  requireSameSize('add', 'b', b, a);
  requireSameSize('add', 'out', out, a);
  if (out.buffer === a.buffer || out.buffer === b.buffer) {
    throw new RangeError('add: out must not be an input buffer (use accumulate for a += b)');
  }
  return prepareElementwise(ctx, 'add', out, 0, a, b);
}

/** target += alpha·x (alpha = 1 by default; x must not be target: use scale(2) for that). */
export function prepareAccumulate(
  ctx: GpuContext,
  target: Tensor<'f32'>,
  x: Tensor<'f32'>,
  alpha = 1,
): Promise<PreparedDispatch> {
  requireSameSize('accumulate', 'x', x, target);
  if (x.buffer === target.buffer) {
    throw new RangeError('accumulate: x must not be the target buffer (scale it by 2 instead)');
  }
  return prepareElementwise(ctx, 'accumulate', target, alpha, x);
}

/** out = alpha·x, or x *= alpha in place when out is omitted or is x. */
export function prepareScale(
  ctx: GpuContext,
  x: Tensor<'f32'>,
  alpha: number,
  out?: Tensor<'f32'>,
): Promise<PreparedDispatch> {
  if (!out || out.buffer === x.buffer) return prepareElementwise(ctx, 'scaleInPlace', x, alpha);
  requireSameSize('scale', 'out', out, x);
  return prepareElementwise(ctx, 'scale', out, alpha, x);
}

/** Every value of y set to `value` (zeroing gradient accumulators within a recorded step). */
export function prepareFill(
  ctx: GpuContext,
  y: Tensor<'f32'>,
  value: number,
): Promise<PreparedDispatch> {
  return prepareElementwise(ctx, 'fill', y, value);
}

/** a + b into `out` (allocated with a's shape unless given). */
export async function add(
  ctx: GpuContext,
  a: Tensor<'f32'>,
  b: Tensor<'f32'>,
  out?: Tensor<'f32'>,
): Promise<Tensor<'f32'>> {
  const c = out ?? Tensor.empty(ctx, a.shape, 'f32', 'add out');
  await runOnce(ctx, [await prepareAdd(ctx, a, b, c)]);
  return c;
}

/** target += alpha·x; returns target. */
export async function accumulate(
  ctx: GpuContext,
  target: Tensor<'f32'>,
  x: Tensor<'f32'>,
  alpha = 1,
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, [await prepareAccumulate(ctx, target, x, alpha)]);
  return target;
}

/** alpha·x into `out`, or in place (returning x) when out is omitted. */
export async function scale(
  ctx: GpuContext,
  x: Tensor<'f32'>,
  alpha: number,
  out?: Tensor<'f32'>,
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, [await prepareScale(ctx, x, alpha, out)]);
  return out ?? x;
}

/** Sets every value of y to `value`; returns y. */
export async function fill(
  ctx: GpuContext,
  y: Tensor<'f32'>,
  value: number,
): Promise<Tensor<'f32'>> {
  await runOnce(ctx, [await prepareFill(ctx, y, value)]);
  return y;
}
