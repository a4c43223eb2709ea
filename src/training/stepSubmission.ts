/**
 * What the training loop needs to keep the host off the GPU's critical path:
 *
 * - `ScalarReadbackRing`: a few MAP_READ buffers made once and reused, into which each step
 *   copies its loss and gradient norm; no buffer is created per step.
 * - `DeferredErrorScopes`: a step's submission is wrapped in validation / out-of-memory /
 *   internal error scopes as GpuContext.submit does, but nothing waits for the scopes at
 *   submission: their results are collected, and `check` is awaited beside the step's
 *   readback (which waits for the same work anyway), so it adds no wait of its own. A
 *   failed submission must be caught there: its readback would show the previous values.
 */
import { GpuKernelError } from '../gpu/errors';
import type { Tensor } from '../gpu/tensor';

export class ScalarReadbackRing {
  private readonly slots: GPUBuffer[];
  private next = 0;

  constructor(
    device: GPUDevice,
    /** One-value f32 tensors copied per step, in order. */
    private readonly values: number,
    slots = 2,
  ) {
    this.slots = Array.from({ length: slots }, (_, i) =>
      device.createBuffer({
        label: `step scalars readback ${i}`,
        size: 4 * values,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      }),
    );
  }

  /** Records the copies of `tensors` into the next slot (unmapped: its last read finished). */
  record(encoder: GPUCommandEncoder, tensors: readonly Tensor<'f32'>[]): GPUBuffer {
    if (tensors.length !== this.values)
      throw new RangeError(`readback of ${tensors.length} values into slots of ${this.values}`);
    const slot = this.slots[this.next];
    this.next = (this.next + 1) % this.slots.length;
    tensors.forEach((t, i) => encoder.copyBufferToBuffer(t.buffer, t.byteOffset, slot, 4 * i, 4));
    return slot;
  }

  /** Waits for the slot's copy (the submission that recorded it) and reads it. */
  async read(slot: GPUBuffer): Promise<number[]> {
    await slot.mapAsync(GPUMapMode.READ);
    try {
      return Array.from(new Float32Array(slot.getMappedRange().slice(0)));
    } finally {
      slot.unmap();
    }
  }

  destroy(): void {
    for (const s of this.slots) s.destroy();
  }
}

type ScopeResult = { label: string; error: GPUError } | null;

function kindOf(error: GPUError): GpuKernelError['kind'] {
  // By class name as well as instanceof: Dawn for Node's classes are not browser globals.
  const name = error.constructor?.name ?? '';
  if (name === 'GPUValidationError') return 'validation';
  if (name === 'GPUOutOfMemoryError') return 'out-of-memory';
  return 'internal';
}

export class DeferredErrorScopes {
  private pending: Promise<ScopeResult>[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** Submits `encode`'s commands inside error scopes whose results are kept for `check`. */
  submit(label: string, encode: (encoder: GPUCommandEncoder) => void): void {
    const { device } = this;
    device.pushErrorScope('internal');
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    try {
      const encoder = device.createCommandEncoder({ label });
      encode(encoder);
      device.queue.submit([encoder.finish()]);
    } finally {
      const popped = [device.popErrorScope(), device.popErrorScope(), device.popErrorScope()];
      this.pending.push(
        Promise.all(popped).then(
          ([validation, oom, internal]) => {
            const error = validation ?? oom ?? internal;
            return error ? { label, error } : null;
          },
          (error: unknown) => ({
            label,
            error: { message: String(error) } as GPUError,
          }),
        ),
      );
    }
  }

  /** Throws a GpuKernelError naming the first failed submission since the last check. */
  async check(): Promise<void> {
    const results = await Promise.all(this.pending.splice(0));
    const failed = results.find((r) => r !== null);
    if (failed) throw new GpuKernelError(failed.label, kindOf(failed.error), failed.error.message);
  }
}
