/**
 * The training worker's GPU device: created on first use, recreated after a loss, and the
 * listeners told when it is lost. The worker's API and (in test builds) its diagnostics share it.
 */
import { GpuContext } from '../gpu/context';
import type { GpuDeviceLostError } from '../gpu/errors';
import { bundledShaderSource } from '../gpu/shaderSource.browser';
import { serializeError, type DeviceLostListener } from './protocol';

export class WorkerGpu {
  private ctx: Promise<GpuContext> | undefined;
  private readonly lostListeners: DeviceLostListener[] = [];

  context(): Promise<GpuContext> {
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

  onDeviceLost(listener: DeviceLostListener): void {
    this.lostListeners.push(listener);
  }
}
