/**
 * A GPU tensor: a shape and a dtype, row-major and contiguous, in a storage buffer of its own
 * or at a byte offset inside a shared one (a view: the parameter, gradient and AdamW-moment
 * arenas hold every tensor of their kind in one buffer, so the optimizer can treat the whole
 * model as a few flat ranges). Kernels bind `tensor.binding` — {buffer, offset, size} — so a
 * view and a whole buffer are bound the same way. Upload/download go through the queue and
 * a MAP_READ staging buffer.
 */
import type { GpuContext } from './context';

export type DType = 'f32' | 'u32' | 'i32';

type ArrayFor<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'u32'
    ? Uint32Array
    : Int32Array;

const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, u32: 4, i32: 4 };

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class Tensor<D extends DType = DType> {
  private constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: D,
    /** Where the tensor's first value sits in `buffer` (0 unless it is a view into an arena). */
    readonly byteOffset = 0,
  ) {}

  get size(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  /**
   * What a kernel binds: the tensor's bytes of its buffer (at least 4, as WebGPU needs; a
   * view's slot in an arena is padded to make room for them).
   */
  get binding(): GPUBufferBinding {
    return { buffer: this.buffer, offset: this.byteOffset, size: Math.max(4, this.byteLength) };
  }

  /** A zero-filled tensor. Buffers are padded to 4 bytes and at least 4 bytes long (WebGPU needs both). */
  static empty<D extends DType>(
    ctx: GpuContext,
    shape: readonly number[],
    dtype: D,
    label = 'tensor',
  ): Tensor<D> {
    for (const dim of shape) {
      if (!Number.isInteger(dim) || dim < 0)
        throw new RangeError(`${label}: bad shape [${shape.join(', ')}]`);
    }
    const bytes = Math.max(4, numel(shape) * BYTES_PER_ELEMENT[dtype]);
    const maxBuffer = ctx.device.limits.maxStorageBufferBindingSize;
    if (bytes > maxBuffer) {
      throw new RangeError(
        `${label}: ${bytes} bytes exceeds this GPU's maxStorageBufferBindingSize (${maxBuffer} bytes)`,
      );
    }
    const buffer = ctx.device.createBuffer({
      label: `${label} [${shape.join('×')}] ${dtype}`,
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    return new Tensor(ctx, buffer, shape, dtype);
  }

  static fromArray<D extends DType>(
    ctx: GpuContext,
    shape: readonly number[],
    dtype: D,
    data: ArrayFor<D> | readonly number[],
    label = 'tensor',
  ): Tensor<D> {
    const tensor = Tensor.empty(ctx, shape, dtype, label);
    tensor.upload(data);
    return tensor;
  }

  /**
   * The same buffer under another shape with the same number of values. A view never owns
   * the buffer: destroy the original, not the view.
   */
  view(shape: readonly number[]): Tensor<D> {
    if (numel(shape) !== this.size) {
      throw new RangeError(
        `view: [${shape.join(',')}] does not have the ${this.size} values of [${this.shape.join(',')}]`,
      );
    }
    return new Tensor(this.ctx, this.buffer, [...shape], this.dtype, this.byteOffset);
  }

  /**
   * A tensor of `shape` whose values start `byteOffset` bytes into this tensor's buffer (a
   * slot of an arena). The offset must be a multiple of the device's
   * minStorageBufferOffsetAlignment, as every storage binding's is. Like `view`, it does not
   * own the buffer.
   */
  slice(byteOffset: number, shape: readonly number[], label = 'view'): Tensor<D> {
    const alignment = this.ctx.device.limits.minStorageBufferOffsetAlignment;
    const start = this.byteOffset + byteOffset;
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || start % alignment !== 0)
      throw new RangeError(
        `${label}: byte offset ${start} is not a multiple of minStorageBufferOffsetAlignment (${alignment})`,
      );
    const bytes = Math.max(4, numel(shape) * BYTES_PER_ELEMENT[this.dtype]);
    if (start + bytes > this.byteOffset + Math.max(4, this.byteLength))
      throw new RangeError(
        `${label}: [${shape.join(',')}] at byte ${byteOffset} does not fit in [${this.shape.join(',')}]`,
      );
    return new Tensor(this.ctx, this.buffer, [...shape], this.dtype, start);
  }

  upload(data: ArrayFor<D> | readonly number[]): void {
    if (data.length !== this.size) {
      throw new RangeError(
        `upload: ${data.length} values for a tensor of ${this.size} [${this.shape.join('×')}]`,
      );
    }
    const typed = ArrayBuffer.isView(data) ? data : makeTyped(this.dtype, data);
    this.ctx.device.queue.writeBuffer(
      this.buffer,
      this.byteOffset,
      typed.buffer,
      typed.byteOffset,
      typed.byteLength,
    );
  }

  /** Copies the tensor back to the CPU (waits for all work submitted before it). */
  async download(): Promise<ArrayFor<D>> {
    const { device } = this.ctx;
    const bytes = Math.max(4, this.byteLength);
    const staging = device.createBuffer({
      label: `${this.buffer.label} readback`,
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      await this.ctx.submit(`download ${this.buffer.label}`, (encoder) => {
        encoder.copyBufferToBuffer(this.buffer, this.byteOffset, staging, 0, bytes);
      });
      await staging.mapAsync(GPUMapMode.READ);
      const copy = staging.getMappedRange().slice(0, this.byteLength);
      staging.unmap();
      return makeTypedFromBuffer(this.dtype, copy) as ArrayFor<D>;
    } finally {
      staging.destroy();
    }
  }

  /** Frees the buffer — the whole buffer, also when called on a view of it. */
  destroy(): void {
    this.buffer.destroy();
  }
}

function makeTyped(dtype: DType, data: readonly number[]): Float32Array | Uint32Array | Int32Array {
  if (dtype === 'f32') return Float32Array.from(data);
  if (dtype === 'u32') return Uint32Array.from(data);
  return Int32Array.from(data);
}

function makeTypedFromBuffer(
  dtype: DType,
  buffer: ArrayBuffer,
): Float32Array | Uint32Array | Int32Array {
  if (dtype === 'f32') return new Float32Array(buffer);
  if (dtype === 'u32') return new Uint32Array(buffer);
  return new Int32Array(buffer);
}
