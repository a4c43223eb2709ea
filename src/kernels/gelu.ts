/**
 * Elementwise exact-erf GELU (`shaders/gelu.wgsl`, a flat kernel): forward y = gelu(x) and
 * backward dx = dy·gelu'(x), for activations that are not fused into a matmul epilogue.
 */
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  runOnce,
  streamCost,
  type BindingResource,
  type PreparedDispatch,
} from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import { requireDistinct, requireSameSize } from './checks';
import { flatGridFor, flatKernel } from './flat';

export interface GeluOptions {
  /** y += result (dx += result) instead of overwriting it. */
  accumulate?: boolean;
}

export interface GeluForwardTensors {
  x: Tensor<'f32'>;
  y: Tensor<'f32'>;
}

export interface GeluBackwardTensors {
  /** The forward input. */
  x: Tensor<'f32'>;
  dy: Tensor<'f32'>;
  dx: Tensor<'f32'>;
}

async function prepareGelu(
  ctx: GpuContext,
  entryPoint: 'forward' | 'backward',
  x: Tensor<'f32'>,
  out: Tensor<'f32'>,
  dy: Tensor<'f32'> | undefined,
  opts: GeluOptions,
): Promise<PreparedDispatch[]> {
  const kernel = await flatKernel(ctx, {
    shader: 'gelu',
    entryPoint,
    constants: opts.accumulate ? { ACCUMULATE: 1 } : undefined,
  });
  const params = uniformU32(ctx, `${kernel.name} params`, [x.size]);
  const buffers: BindingResource[] = [x.binding, out.binding, params];
  // `forward` does not reference dy, so its auto layout has no binding 3.
  if (dy) buffers.push(dy.binding);
  // GELU's tanh form is ~20 operations a value; the backward reads x and dy.
  const cost = streamCost(x.size, {
    read: (dy ? 2 : 1) + (opts.accumulate ? 1 : 0),
    written: 1,
    flops: 20,
  });
  return [createDispatch(ctx, kernel, buffers, flatGridFor(ctx, x.size), [params], cost)];
}

/** y = gelu(x) (or y += gelu(x)). */
export function prepareGeluForward(
  ctx: GpuContext,
  t: GeluForwardTensors,
  opts: GeluOptions = {},
): Promise<PreparedDispatch[]> {
  requireSameSize('gelu', 'y', t.y, 'x', t.x);
  requireDistinct('gelu', { y: t.y }, { x: t.x });
  return prepareGelu(ctx, 'forward', t.x, t.y, undefined, opts);
}

/** dx = dy·gelu'(x) (or dx += …), with x the forward input. */
export function prepareGeluBackward(
  ctx: GpuContext,
  t: GeluBackwardTensors,
  opts: GeluOptions = {},
): Promise<PreparedDispatch[]> {
  requireSameSize('gelu', 'dy', t.dy, 'x', t.x);
  requireSameSize('gelu', 'dx', t.dx, 'x', t.x);
  requireDistinct('gelu', { dx: t.dx }, { x: t.x, dy: t.dy });
  return prepareGelu(ctx, 'backward', t.x, t.dx, t.dy, opts);
}

/** gelu(x) into `y` (allocated unless given; it must be given to accumulate). */
export async function geluForward(
  ctx: GpuContext,
  t: { x: Tensor<'f32'>; y?: Tensor<'f32'> },
  opts: GeluOptions = {},
): Promise<Tensor<'f32'>> {
  if (opts.accumulate && !t.y) throw new RangeError('gelu: accumulate needs an output');
  const y = t.y ?? Tensor.empty(ctx, t.x.shape, 'f32', 'gelu y');
  await runOnce(ctx, await prepareGeluForward(ctx, { x: t.x, y }, opts));
  return y;
}

/** dy·gelu'(x) into `dx` (allocated unless given; it must be given to accumulate). */
export async function geluBackward(
  ctx: GpuContext,
  t: { x: Tensor<'f32'>; dy: Tensor<'f32'>; dx?: Tensor<'f32'> },
  opts: GeluOptions = {},
): Promise<Tensor<'f32'>> {
  if (opts.accumulate && !t.dx) throw new RangeError('gelu: accumulate needs an output');
  const dx = t.dx ?? Tensor.empty(ctx, t.x.shape, 'f32', 'gelu dx');
  await runOnce(ctx, await prepareGeluBackward(ctx, { x: t.x, dy: t.dy, dx }, opts));
  return dx;
}
