/**
 * Browser kernel cases (see ./kernelCases.ts) for batch augmentation on the GPU
 * (src/training/gpuBatches.ts, shaders/augment_rows.wgsl + augment_cols.wgsl): a training
 * batch (random crops at the borders, flips) and an evaluation batch, graded against the CPU
 * path (src/data/batch.ts), which is the reference. Tolerance: none — both are PIL's integer
 * resampling with the same tables and the same f32 normalisation table, so every value must
 * be the same float (the grade is 0 when all are, 2 otherwise).
 */
import { AIM_V1_AUGMENTATION_NO_JITTER } from '../data/augment';
import { drawTrainParams, evalBatch, trainBatchFromParams } from '../data/batch';
import type { ImageDataset, RgbImages } from '../data/dataset';
import { runDispatches } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { mulberry32 } from '../reference/random';
import { GpuBatches } from '../training/gpuBatches';
import type { CaseData, KernelCase } from './kernelCases';

function images(
  pixels: readonly number[],
  count: number,
  height: number,
  width: number,
): RgbImages {
  return {
    pixels: Uint8Array.from(pixels),
    labels: new Uint16Array(count),
    count,
    height,
    width,
  };
}

/** `count` train and `count` val images of height × width, and the batch's indices. */
function setsOf(x: CaseData, count: number, height: number, width: number): ImageDataset {
  const size = count * height * width * 3;
  return {
    name: 'case',
    classes: ['only'],
    train: images(x.pixels.slice(0, size), count, height, width),
    val: images(x.pixels.slice(size), count, height, width),
    report: { accepted: 2 * count, skipped: [], ignored: 0 },
  };
}

/**
 * A batch of `indices` (of `count` images of height × width) at `size`²: 'train' with crops
 * and flips drawn from mulberry32(seed), or 'eval' (evalView).
 */
export function augmentCase(
  name: string,
  kind: 'train' | 'eval',
  count: number,
  height: number,
  width: number,
  size: number,
  indices: number[],
  seed: number,
): KernelCase {
  const reference = (x: CaseData): Float32Array => {
    const ds = setsOf(x, count, height, width);
    if (kind === 'eval') return evalBatch(ds.val, indices, size).images;
    const params = drawTrainParams(
      ds.train,
      indices,
      size,
      { ...AIM_V1_AUGMENTATION_NO_JITTER, scale: [0.05, 1] },
      mulberry32(seed),
    );
    return trainBatchFromParams(ds.train, indices, size, params).images;
  };
  return {
    name,
    inputs: () => {
      const next = mulberry32(seed + 1);
      const n = 2 * count * height * width * 3;
      return { pixels: Array.from({ length: n }, () => Math.floor(next() * 256)) };
    },
    run: async (ctx, x) => {
      const ds = setsOf(x, count, height, width);
      const batch = indices.length;
      const out = Tensor.empty(ctx, [batch, 3, size, size], 'f32', 'augmented batch');
      const gpu = await GpuBatches.create(ctx, ds, size, batch, out, { imagesPerChunk: 3 });
      if (!gpu) throw new Error(`${name}: the images do not fit on this GPU`);
      try {
        if (kind === 'eval') gpu.writeEval(indices);
        else {
          const params = drawTrainParams(
            ds.train,
            indices,
            size,
            { ...AIM_V1_AUGMENTATION_NO_JITTER, scale: [0.05, 1] },
            mulberry32(seed),
          );
          gpu.writeTrain(indices, params);
        }
        await runDispatches(ctx, gpu.dispatches);
        return { out: Array.from(await out.download()) };
      } finally {
        gpu.destroy();
        out.destroy();
      }
    },
    grade: (x, got) => {
      const want = reference(x);
      if (got.out.length !== want.length) return Infinity;
      return got.out.every((v, i) => Object.is(Math.fround(v), want[i])) ? 0 : 2;
    },
  };
}
