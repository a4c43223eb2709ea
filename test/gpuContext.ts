/**
 * The GPU context the kernel tests share: one Dawn device per process. The `gpu` Vitest
 * project (vitest.config.ts) runs its files without isolation, so this module and the
 * context outlive each file, and a pipeline compiled for one file is reused by the next.
 */
import { GpuContext } from '../src/gpu/context';
import { fileShaderSource } from '../src/gpu/shaderSource.node';

let shared: Promise<GpuContext> | undefined;

/**
 * A real WebGPU device through Dawn. Rejects (so the test fails, never skips) if no adapter
 * exists: kernel tests that silently pass on a machine without WebGPU would prove nothing.
 */
export function testGpu(): Promise<GpuContext> {
  shared ??= createShared();
  return shared;
}

async function createShared(): Promise<GpuContext> {
  const ctx = await GpuContext.create({
    shaderSource: fileShaderSource(),
    onUncapturedError: (error) => {
      throw error;
    },
    // Fails the test that was running, and the next file gets a fresh device instead of
    // inheriting the loss.
    onDeviceLost: (error) => {
      shared = undefined;
      throw error;
    },
  });
  // Later files in this process use the same device: a test that wants to destroy a device
  // creates its own (GpuContext.create), as gpuRuntime.test.ts does.
  ctx.destroy = () => {
    throw new Error('the shared test GpuContext outlives this file: do not destroy it');
  };
  return ctx;
}
