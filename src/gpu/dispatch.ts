/**
 * A dispatch ready to record: kernel, buffers in binding order, workgroup counts.
 * Kernel wrappers return these so that a caller (a test, a benchmark, later the trainer)
 * can record many into one compute pass and one submission.
 */
import type { GpuContext } from './context';
import { dispatchKernel, type Kernel } from './kernels';

export interface PreparedDispatch {
  kernel: Kernel;
  buffers: GPUBuffer[];
  workgroups: [number, number, number];
  /** Buffers owned by this dispatch (uniforms), freed by `release`. */
  owned: GPUBuffer[];
}

export function recordDispatch(
  ctx: GpuContext,
  pass: GPUComputePassEncoder,
  dispatch: PreparedDispatch,
): void {
  dispatchKernel(ctx.device, pass, dispatch.kernel, dispatch.buffers, dispatch.workgroups);
}

/** Records and submits dispatches in one pass, surfacing any GPU error with the kernels' names. */
export async function runDispatches(
  ctx: GpuContext,
  dispatches: readonly PreparedDispatch[],
): Promise<void> {
  const label = dispatches.map((d) => d.kernel.name).join(' → ');
  await ctx.submit(label, (encoder) => {
    const pass = encoder.beginComputePass({ label });
    for (const dispatch of dispatches) recordDispatch(ctx, pass, dispatch);
    pass.end();
  });
}

export function releaseDispatch(dispatch: PreparedDispatch): void {
  for (const buffer of dispatch.owned) buffer.destroy();
}
