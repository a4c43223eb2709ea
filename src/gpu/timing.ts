/**
 * GPU timing: timestamp queries around a compute pass when the device has
 * `timestamp-query`, otherwise wall-clock time to `onSubmittedWorkDone` (stated in the
 * result so a reader never mistakes one for the other).
 */
import type { GpuContext } from './context';

export interface GpuTiming {
  ms: number;
  source: 'timestamp-query' | 'wall-clock';
}

/**
 * Runs `record` inside one compute pass and returns the GPU time of that pass.
 * `record` may dispatch any number of kernels into the pass.
 */
export async function timeComputePass(
  ctx: GpuContext,
  label: string,
  record: (pass: GPUComputePassEncoder) => void,
): Promise<GpuTiming> {
  if (!ctx.capabilities.timestampQuery) {
    await ctx.finish();
    const start = performance.now();
    await ctx.submit(label, (encoder) => {
      const pass = encoder.beginComputePass({ label });
      record(pass);
      pass.end();
    });
    await ctx.finish();
    return { ms: performance.now() - start, source: 'wall-clock' };
  }
  const { device } = ctx;
  const querySet = device.createQuerySet({
    label: `${label} timestamps`,
    type: 'timestamp',
    count: 2,
  });
  const resolve = device.createBuffer({
    label: `${label} timestamps resolve`,
    size: 16,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const readback = device.createBuffer({
    label: `${label} timestamps readback`,
    size: 16,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    await ctx.submit(label, (encoder) => {
      const pass = encoder.beginComputePass({
        label,
        timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
      });
      record(pass);
      pass.end();
      encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16);
    });
    await readback.mapAsync(GPUMapMode.READ);
    const [begin, end] = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    return { ms: Number(end - begin) / 1e6, source: 'timestamp-query' };
  } finally {
    querySet.destroy();
    resolve.destroy();
    readback.destroy();
  }
}
