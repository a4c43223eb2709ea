/**
 * What the training loop needs to keep the host off the GPU's critical path:
 *
 * - `ScalarReadbackRing`: a few MAP_READ buffers made once and reused, into which each step
 *   copies its loss and gradient norm; no buffer is created per step.
 * - `DeferredErrorScopes`: a step's submission is wrapped in validation / out-of-memory /
 *   internal error scopes as GpuContext.submit does, but nothing waits for the scopes at
 *   submission: each submission's check is awaited beside that step's readback (which waits
 *   for the same work anyway), so it adds no wait of its own, and a step submitted ahead is
 *   checked when its own results are read. A failed submission must be caught there: its
 *   readback would show the previous values.
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

function kindOf(error: GPUError): GpuKernelError['kind'] {
  // By class name as well as instanceof: Dawn for Node's classes are not browser globals.
  const name = error.constructor?.name ?? '';
  if (name === 'GPUValidationError') return 'validation';
  if (name === 'GPUOutOfMemoryError') return 'out-of-memory';
  return 'internal';
}

export class DeferredErrorScopes {
  constructor(private readonly device: GPUDevice) {}

  /**
   * Submits `encode`'s commands inside error scopes. The promise settles when the scopes pop
   * (nothing waits for it at submission) and rejects with a GpuKernelError naming `label`
   * when one caught an error. A submission nobody checks (a step in flight when the run ends)
   * is not an unhandled rejection.
   */
  submit(label: string, encode: (encoder: GPUCommandEncoder) => void): Promise<void> {
    const { device } = this;
    device.pushErrorScope('internal');
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let popped: Promise<(GPUError | null)[]>;
    try {
      const encoder = device.createCommandEncoder({ label });
      encode(encoder);
      device.queue.submit([encoder.finish()]);
    } finally {
      popped = Promise.all([
        device.popErrorScope(),
        device.popErrorScope(),
        device.popErrorScope(),
      ]);
    }
    const checked = popped.then(
      ([validation, oom, internal]) => {
        const error = validation ?? oom ?? internal;
        if (error) throw new GpuKernelError(label, kindOf(error), error.message);
      },
      (error: unknown) => {
        throw new GpuKernelError(label, 'internal', String(error));
      },
    );
    checked.catch(() => undefined);
    return checked;
  }
}
