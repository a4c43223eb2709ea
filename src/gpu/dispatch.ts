/**
 * A dispatch ready to record: pipeline, bind group (built once, here) and workgroup counts.
 * Kernel wrappers return these so that a caller (a test, a benchmark, the trainer) can
 * prepare a whole step once and record it every iteration into one pass and one submission
 * without rebuilding bind groups.
 */
import type { GpuContext } from './context';
import type { Kernel } from './kernels';

export interface PreparedDispatch {
  /** Kernel name, e.g. `matmul{TRANS_B=1}` — shows in GPU error messages and timings. */
  name: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** Buffers owned by this dispatch (uniforms, scratch), freed by `releaseDispatch`. */
  owned: GPUBuffer[];
  /** What the dispatch computes and moves, for the step profile's roofline (bench/profileSuite.ts). */
  cost?: DispatchCost;
}

/**
 * Work of one dispatch counted from its shape: floating-point operations (a multiply-add is
 * 2) and the bytes it must read from and write to global memory at least once (each input
 * and output element counted once, as a roofline does; re-reads served by caches are not).
 */
export interface DispatchCost {
  flops: number;
  bytesRead: number;
  bytesWritten: number;
}

/**
 * What a binding of a prepared dispatch is given: a whole buffer (uniforms, scratch) or a
 * byte range of one — `tensor.binding`, which is how every tensor is bound, so a view into an
 * arena and a tensor with a buffer of its own are bound alike.
 */
export type BindingResource = GPUBuffer | GPUBufferBinding;

/**
 * The cost of a streaming kernel over `values` f32 values: `read` and `written` values and
 * `flops` operations per value (a cost is a lower bound on traffic, as the roofline wants).
 */
export function streamCost(
  values: number,
  perValue: { read: number; written: number; flops?: number },
): DispatchCost {
  return {
    flops: values * (perValue.flops ?? 0),
    bytesRead: 4 * values * perValue.read,
    bytesWritten: 4 * values * perValue.written,
  };
}

/**
 * Builds the bind group (group 0) of `kernel` with `buffers` bound in order to bindings
 * 0, 1, 2, ... and checks the grid against the device's per-dimension limit.
 */
export function createDispatch(
  ctx: GpuContext,
  kernel: Kernel,
  buffers: readonly BindingResource[],
  workgroups: readonly [number, number?, number?],
  owned: GPUBuffer[] = [],
  cost?: DispatchCost,
): PreparedDispatch {
  const grid: [number, number, number] = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
  const limit = ctx.capabilities.limits.maxComputeWorkgroupsPerDimension;
  if (grid.some((n) => n > limit)) {
    throw new RangeError(
      `${kernel.name}: grid ${grid.join('×')} exceeds this GPU's ${limit} workgroups per dimension`,
    );
  }
  const bindGroup = ctx.device.createBindGroup({
    label: `${kernel.name} bindings`,
    layout: kernel.pipeline.getBindGroupLayout(0),
    entries: buffers.map((b, binding) => ({
      binding,
      resource: 'buffer' in b ? b : { buffer: b },
    })),
  });
  const dispatch: PreparedDispatch = {
    name: kernel.name,
    pipeline: kernel.pipeline,
    bindGroup,
    workgroups: grid,
    owned,
  };
  if (cost) dispatch.cost = cost;
  return dispatch;
}

export function recordDispatch(pass: GPUComputePassEncoder, dispatch: PreparedDispatch): void {
  if (dispatch.workgroups.some((n) => n === 0)) return;
  pass.setPipeline(dispatch.pipeline);
  pass.setBindGroup(0, dispatch.bindGroup);
  pass.dispatchWorkgroups(...dispatch.workgroups);
}

/** Records and submits dispatches in one pass, surfacing any GPU error with the kernels' names. */
export async function runDispatches(
  ctx: GpuContext,
  dispatches: readonly PreparedDispatch[],
): Promise<void> {
  const label = dispatches.map((d) => d.name).join(' → ');
  await ctx.submit(label, (encoder) => {
    const pass = encoder.beginComputePass({ label });
    for (const dispatch of dispatches) recordDispatch(pass, dispatch);
    pass.end();
  });
}

export function releaseDispatch(dispatch: PreparedDispatch): void {
  for (const buffer of dispatch.owned) buffer.destroy();
}

/** Runs prepared dispatches once and frees what they own. */
export async function runOnce(
  ctx: GpuContext,
  dispatches: readonly PreparedDispatch[],
): Promise<void> {
  try {
    await runDispatches(ctx, dispatches);
  } finally {
    for (const d of dispatches) releaseDispatch(d);
  }
}

/**
 * A grid of at least `count` workgroups with no dimension above `limit`: [count, 1] when it
 * fits, else 2-D; shaders fold it back as wg.y·groups.x + wg.x and skip the surplus.
 */
export function foldedGrid(count: number, limit: number): [number, number] {
  if (count <= limit) return [count, 1];
  const rows = Math.ceil(count / limit);
  return [Math.ceil(count / rows), rows];
}

/** foldedGrid under the per-dimension limit kernel choices read (`ctx.choices`). */
export function flatGrid(ctx: GpuContext, count: number): [number, number] {
  return foldedGrid(count, ctx.choices.limits.maxComputeWorkgroupsPerDimension);
}
