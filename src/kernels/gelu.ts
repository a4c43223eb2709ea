/**
 * Elementwise exact-erf GELU (`shaders/gelu.wgsl`): forward y = gelu(x) and backward
 * dx = dy·gelu'(x), for activations that are not fused into a matmul epilogue.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import { flatGridFor } from './elementwise';

export interface GeluOptions {
  /** out += result instead of out = result. */
  accumulate?: boolean;
}

function sameSize(what: string, t: Tensor, x: Tensor): void {
  if (t.size !== x.size) {
    throw new RangeError(
      `gelu: ${what} is [${t.shape.join(',')}], expected ${x.size} values like x [${x.shape.join(',')}]`,
    );
  }
}

async function prepareGelu(
  ctx: GpuContext,
  entryPoint: 'forward' | 'backward',
  x: Tensor<'f32'>,
  out: Tensor<'f32'>,
  dy: Tensor<'f32'> | undefined,
  opts: GeluOptions,
): Promise<PreparedDispatch> {
  sameSize('out', out, x);
  if (dy) sameSize('dy', dy, x);
  if (out.buffer === x.buffer || out.buffer === dy?.buffer) {
    throw new RangeError('gelu: out must not be an input buffer');
  }
  const kernel = await ctx.kernels.get({
    shader: 'gelu',
    entryPoint,
    constants: opts.accumulate ? { ACCUMULATE: 1 } : undefined,
  });
  const params = uniformU32(ctx, `${kernel.name} params`, [x.size]);
  const buffers = [x.buffer, out.buffer, params];
  // `forward` does not reference dy, so its auto layout has no binding 3.
  if (dy) buffers.push(dy.buffer);
  return createDispatch(ctx, kernel, buffers, flatGridFor(ctx, x.size), [params]);
}

/** y = gelu(x) (or y += gelu(x)). */
export function prepareGeluForward(
  ctx: GpuContext,
  x: Tensor<'f32'>,
  y: Tensor<'f32'>,
  opts: GeluOptions = {},
): Promise<PreparedDispatch> {
  return prepareGelu(ctx, 'forward', x, y, undefined, opts);
}

/** dx = dy·gelu'(x) (or dx += …), with x the forward input. */
export function prepareGeluBackward(
  ctx: GpuContext,
  x: Tensor<'f32'>,
  dy: Tensor<'f32'>,
  dx: Tensor<'f32'>,
  opts: GeluOptions = {},
): Promise<PreparedDispatch> {
  return prepareGelu(ctx, 'backward', x, dx, dy, opts);
}

export async function geluForward(
  ctx: GpuContext,
  x: Tensor<'f32'>,
  opts: GeluOptions & { out?: Tensor<'f32'> } = {},
): Promise<Tensor<'f32'>> {
  if (opts.accumulate && !opts.out) throw new RangeError('gelu: accumulate needs an output');
  const y = opts.out ?? Tensor.empty(ctx, x.shape, 'f32', 'gelu y');
  await runOnce(ctx, [await prepareGeluForward(ctx, x, y, opts)]);
  return y;
}

export async function geluBackward(
  ctx: GpuContext,
  x: Tensor<'f32'>,
  dy: Tensor<'f32'>,
  opts: GeluOptions & { out?: Tensor<'f32'> } = {},
): Promise<Tensor<'f32'>> {
  if (opts.accumulate && !opts.out) throw new RangeError('gelu: accumulate needs an output');
  const dx = opts.out ?? Tensor.empty(ctx, x.shape, 'f32', 'gelu dx');
  await runOnce(ctx, [await prepareGeluBackward(ctx, x, dy, dx, opts)]);
  return dx;
}
