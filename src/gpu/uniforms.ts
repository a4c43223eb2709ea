/**
 * Uniform buffers of scalar fields (u32 / i32 / f32), written in declaration order, 4 bytes
 * each, padded to a multiple of 16 bytes. The WGSL struct must list the same fields in the
 * same order, all scalars (so no alignment gaps).
 */
import type { GpuContext } from './context';

export type UniformField = readonly ['u32' | 'i32' | 'f32', number];

export function packUniform(fields: readonly UniformField[]): ArrayBuffer {
  const bytes = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
  const buffer = new ArrayBuffer(bytes);
  const view = new DataView(buffer);
  fields.forEach(([type, value], i) => {
    if (type === 'f32') view.setFloat32(i * 4, value, true);
    else if (type === 'i32') view.setInt32(i * 4, value, true);
    else {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
        throw new RangeError(`uniform u32 field ${i} = ${value}`);
      view.setUint32(i * 4, value, true);
    }
  });
  return buffer;
}

export function uniformBuffer(
  ctx: GpuContext,
  label: string,
  fields: readonly UniformField[],
): GPUBuffer {
  const data = packUniform(fields);
  const buffer = ctx.device.createBuffer({
    label,
    size: data.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  ctx.device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/** Shorthand for an all-u32 uniform (kernel dimensions). */
export function uniformU32(ctx: GpuContext, label: string, values: readonly number[]): GPUBuffer {
  return uniformBuffer(
    ctx,
    label,
    values.map((v) => ['u32', v] as const),
  );
}
