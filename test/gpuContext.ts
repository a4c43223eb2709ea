/** The GPU context shared by the kernel tests of one test file (one Dawn device per process). */
import { GpuContext } from '../src/gpu/context';
import { fileShaderSource } from '../src/gpu/shaderSource.node';

let shared: Promise<GpuContext> | undefined;

/**
 * A real WebGPU device through Dawn. Rejects (so the test fails, never skips) if no adapter
 * exists: kernel tests that silently pass on a machine without WebGPU would prove nothing.
 */
export function testGpu(): Promise<GpuContext> {
  shared ??= GpuContext.create({
    shaderSource: fileShaderSource(),
    onUncapturedError: (error) => {
      throw error;
    },
  });
  return shared;
}
