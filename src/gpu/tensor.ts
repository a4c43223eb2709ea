/**
 * A GPU tensor: one storage buffer, a shape and a dtype, row-major and contiguous.
 * Upload/download go through the queue and a MAP_READ staging buffer.
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
  ) {}

  get size(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
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
    return new Tensor(this.ctx, this.buffer, [...shape], this.dtype);
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
      0,
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
        encoder.copyBufferToBuffer(this.buffer, 0, staging, 0, bytes);
      });
      await staging.mapAsync(GPUMapMode.READ);
      const copy = staging.getMappedRange().slice(0, this.byteLength);
      staging.unmap();
      return makeTypedFromBuffer(this.dtype, copy) as ArrayFor<D>;
    } finally {
      staging.destroy();
    }
  }

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
