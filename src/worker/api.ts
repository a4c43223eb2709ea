/**
 * The worker's API, exposed to the page through comlink. It owns the worker's GPU device;
 * later the trainer lives behind this same object.
 */
import { GpuContext } from '../gpu/context';
import type { GpuDeviceLostError } from '../gpu/errors';
import {
  checkMatmul,
  runSeededMatmul,
  type MatmulCheckRequest,
  type MatmulCheckResult,
} from '../gpu/matmulCheck';
import { bundledShaderSource } from '../gpu/shaderSource.browser';
import { KERNEL_CASES, kernelCase, type CaseData } from '../kernels/kernelCases';
import { serializeError, type GpuProbeResult, type SerializedError } from './protocol';

export type DeviceLostListener = (error: SerializedError) => void;

export class PlaygroundWorkerApi {
  private ctx: Promise<GpuContext> | undefined;
  private lostListeners: DeviceLostListener[] = [];

  private context(): Promise<GpuContext> {
    this.ctx ??= GpuContext.create({
      shaderSource: bundledShaderSource,
      onDeviceLost: (error: GpuDeviceLostError) => {
        // A lost device cannot be reused: the next call creates a fresh one.
        this.ctx = undefined;
        for (const listener of this.lostListeners) listener(serializeError(error));
      },
    });
    this.ctx.catch(() => (this.ctx = undefined));
    return this.ctx;
  }

  /** Creates the device (if needed) and reports what the adapter offers, or why there is none. */
  async probe(): Promise<GpuProbeResult> {
    try {
      return { ok: true, capabilities: (await this.context()).capabilities };
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  }

  /** Register a callback (a comlink proxy) for device loss. */
  onDeviceLost(listener: DeviceLostListener): void {
    this.lostListeners.push(listener);
  }

  async checkMatmul(req: MatmulCheckRequest): Promise<MatmulCheckResult> {
    return checkMatmul(await this.context(), req);
  }

  /** The raw product for seeded inputs, so a test can verify it independently. */
  async runSeededMatmul(req: MatmulCheckRequest): Promise<{ c: Float32Array; ms: number }> {
    return runSeededMatmul(await this.context(), req);
  }

  /** Names of the kernel cases this build can run (see src/kernels/kernelCases.ts). */
  kernelCaseNames(): string[] {
    return KERNEL_CASES.map((c) => c.name);
  }

  /** Runs one kernel case on this worker's device and returns its raw outputs. */
  async runKernelCase(name: string): Promise<CaseData> {
    const c = kernelCase(name);
    return c.run(await this.context(), c.inputs());
  }

  /** Simulates a device loss (diagnostics and tests of the recovery path). */
  async loseDevice(): Promise<void> {
    (await this.context()).device.destroy();
  }
}
