/**
 * Flat kernels — one invocation per value (elementwise, GELU, patchify, positional embedding,
 * AdamW, the attention backward's Δ) — share `shaders/flat_index.wgsl`: its workgroup size is
 * the override constant FLAT_WORKGROUP, given here to every flat pipeline, and its index
 * folds the 2-D grid `flatGridFor` builds.
 */
import type { GpuContext } from '../gpu/context';
import { foldedGrid } from '../gpu/dispatch';
import type { Kernel, KernelKey } from '../gpu/kernels';

/** Invocations per workgroup of every flat kernel (the one value of FLAT_WORKGROUP in WGSL). */
export const FLAT_WORKGROUP = 256;

/** The compiled flat kernel for `key`, with FLAT_WORKGROUP set. */
export function flatKernel(ctx: GpuContext, key: KernelKey): Promise<Kernel> {
  return ctx.kernels.get({ ...key, constants: { ...key.constants, FLAT_WORKGROUP } });
}

/**
 * The grid for one invocation per value of n values: ⌈n / FLAT_WORKGROUP⌉ workgroups, 2-D
 * past `gridLimit` workgroups per dimension (default: the choices' limit, `ctx.choices`;
 * tests lower it).
 */
export function flatGridFor(ctx: GpuContext, n: number, gridLimit?: number): [number, number] {
  const limit = gridLimit ?? ctx.choices.limits.maxComputeWorkgroupsPerDimension;
  return foldedGrid(Math.ceil(n / FLAT_WORKGROUP), limit);
}
