/** A GPU context on the page's main thread (test build only: kernels also run outside a worker). */
import { GpuContext } from '../gpu/context';
import { bundledShaderSource } from '../gpu/shaderSource.browser';

let ctx: Promise<GpuContext> | undefined;

export function pageGpu(): Promise<GpuContext> {
  ctx ??= GpuContext.create({
    shaderSource: bundledShaderSource,
    onDeviceLost: () => (ctx = undefined),
  });
  ctx.catch(() => (ctx = undefined));
  return ctx;
}
