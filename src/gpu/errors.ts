/**
 * Errors raised by the GPU runtime. Each carries enough context (kernel name, the
 * GPU's own message) for the UI to show a plain sentence with the detail one click away.
 */

/** No WebGPU at all, or no adapter: the page shows an explanation instead of the app. */
export class WebGpuUnavailableError extends Error {
  override readonly name = 'WebGpuUnavailableError';
  constructor(
    message: string,
    /** What the user can do about it, in one sentence. */
    readonly remedy: string,
  ) {
    super(message);
  }
}

/** A validation or out-of-memory error reported by the device while running a kernel. */
export class GpuKernelError extends Error {
  override readonly name = 'GpuKernelError';
  constructor(
    /** The kernel (or submission label) during which the device reported the error. */
    readonly kernel: string,
    readonly kind: 'validation' | 'out-of-memory' | 'internal' | 'compilation',
    readonly gpuMessage: string,
  ) {
    super(`${kind} error in kernel "${kernel}": ${gpuMessage}`);
  }
}

/** The device was lost (driver reset, GPU process crash, explicit destroy). */
export class GpuDeviceLostError extends Error {
  override readonly name = 'GpuDeviceLostError';
  constructor(
    readonly reason: string,
    readonly gpuMessage: string,
  ) {
    super(`GPU device lost (${reason}): ${gpuMessage}`);
  }
}
