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

  /** Simulates a device loss (diagnostics and tests of the recovery path). */
  async loseDevice(): Promise<void> {
    (await this.context()).device.destroy();
  }
}
