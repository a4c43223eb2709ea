/**
 * The GPU batch (shaders/augment_rows.wgsl + augment_cols.wgsl through src/training/
 * gpuBatches.ts) against the CPU path it replaces (src/data/batch.ts trainBatch, evalBatch),
 * which is the reference. Tolerance: none. Both resize with PIL's integer arithmetic from the
 * same coefficient tables (sums of uint8 × 22-bit weights, exact in i32 and in doubles) and
 * normalise through the same f32 table, so every value must be the same float.
 */
import { describe, expect, it } from 'vitest';
import {
  AIM_V1_AUGMENTATION,
  AIM_V1_AUGMENTATION_NO_JITTER,
  type AugmentOptions,
} from '../src/data/augment';
import { drawTrainParams, evalBatch, trainBatch, trainBatchFromParams } from '../src/data/batch';
import type { ImageDataset, RgbImages } from '../src/data/dataset';
import { Tensor } from '../src/gpu/tensor';
import { imageChunkPlan, MAX_IMAGE_CHUNKS } from '../src/kernels/augment';
import { runDispatches } from '../src/gpu/dispatch';
import { mulberry32 } from '../src/reference/random';
import { GpuBatches } from '../src/training/gpuBatches';
import { KERNEL_CASES } from '../src/diagnostics/kernelCases';
import { testGpu } from './gpuContext';

function randomSet(count: number, height: number, width: number, seed: number): RgbImages {
  const next = mulberry32(seed);
  const pixels = new Uint8Array(count * height * width * 3);
  // Extremes as well as noise, so clipping to 0 and 255 is exercised.
  for (let i = 0; i < pixels.length; i++) {
    const u = next();
    pixels[i] = u < 0.15 ? 0 : u > 0.85 ? 255 : Math.floor(next() * 256);
  }
  const labels = Uint16Array.from({ length: count }, (_, i) => i % 3);
  return { pixels, labels, count, height, width };
}

function dataset(train: RgbImages, val: RgbImages): ImageDataset {
  return {
    name: 'test',
    classes: ['a', 'b', 'c'],
    train,
    val,
    report: { accepted: 0, skipped: [], ignored: 0 },
  };
}

/** Indices 0…batch−1 of a set of `count`, wrapping, in a scrambled order. */
function indicesFor(batch: number, count: number): number[] {
  return Array.from({ length: batch }, (_, k) => (k * 7 + 3) % count);
}

function firstDifference(got: Float32Array, want: Float32Array): string {
  const i = got.findIndex((v, k) => !Object.is(v, want[k]));
  return i < 0 ? 'none' : `value ${i}: got ${got[i]}, want ${want[i]}`;
}

async function gpuTrainBatch(
  ds: ImageDataset,
  size: number,
  batch: number,
  augment: AugmentOptions,
  seed: number,
  imagesPerChunk?: number,
): Promise<{ got: Float32Array; want: Float32Array }> {
  const ctx = await testGpu();
  const out = Tensor.empty(ctx, [batch, 3, size, size], 'f32', 'batch');
  const gpu = await GpuBatches.create(ctx, ds, size, batch, out, { imagesPerChunk });
  expect(gpu).not.toBeNull();
  try {
    const indices = indicesFor(batch, ds.train.count);
    const params = drawTrainParams(ds.train, indices, size, augment, mulberry32(seed));
    gpu!.writeTrain(indices, params);
    await runDispatches(ctx, gpu!.dispatches);
    const want = trainBatchFromParams(ds.train, indices, size, params).images;
    return { got: await out.download(), want };
  } finally {
    gpu!.destroy();
    out.destroy();
  }
}

describe('augment kernel = CPU trainBatch, bit for bit', () => {
  const cases: [string, number, number, number, number, AugmentOptions][] = [
    // name, image height, width, output size, batch, options
    ['1×1 image upscaled, batch 1', 1, 1, 3, 1, AIM_V1_AUGMENTATION_NO_JITTER],
    [
      '3×5 image, odd batch, downscale and upscale crops',
      3,
      5,
      4,
      5,
      AIM_V1_AUGMENTATION_NO_JITTER,
    ],
    [
      '3×5 image to 7, flips always',
      3,
      5,
      7,
      3,
      { ...AIM_V1_AUGMENTATION_NO_JITTER, flipProbability: 1 },
    ],
    [
      'scale 1.0 (whole image when the aspect allows), never flipped',
      9,
      9,
      5,
      3,
      { ...AIM_V1_AUGMENTATION_NO_JITTER, scale: [1, 1], flipProbability: 0 },
    ],
    [
      'tall 13×6 image, crops along every border',
      13,
      6,
      6,
      17,
      { ...AIM_V1_AUGMENTATION_NO_JITTER, scale: [0.05, 1] },
    ],
    ['28×28 (Fashion-MNIST) to 32, batch 7', 28, 28, 32, 7, AIM_V1_AUGMENTATION_NO_JITTER],
    [
      '40×33 to 16 (antialiased downscale, many taps)',
      40,
      33,
      16,
      5,
      AIM_V1_AUGMENTATION_NO_JITTER,
    ],
  ];
  for (const [name, h, w, size, batch, opts] of cases) {
    it(name, async () => {
      const ds = dataset(randomSet(11, h, w, h * 31 + w), randomSet(4, h, w, 5));
      const { got, want } = await gpuTrainBatch(ds, size, batch, opts, batch * 13 + size);
      expect(firstDifference(got, want)).toBe('none');
    });
  }

  it('reads images from several chunk buffers', async () => {
    const ds = dataset(randomSet(9, 5, 4, 77), randomSet(3, 5, 4, 78));
    const { got, want } = await gpuTrainBatch(ds, 6, 9, AIM_V1_AUGMENTATION_NO_JITTER, 3, 4);
    expect(firstDifference(got, want)).toBe('none');
  });

  it('draws exactly what trainBatch draws (the RNG stream is unchanged)', () => {
    const set = randomSet(6, 7, 8, 9);
    const indices = [5, 0, 3, 3, 1];
    const a = mulberry32(4);
    const b = mulberry32(4);
    const direct = trainBatch(set, indices, 6, AIM_V1_AUGMENTATION, a);
    const split = trainBatchFromParams(
      set,
      indices,
      6,
      drawTrainParams(set, indices, 6, AIM_V1_AUGMENTATION, b),
    );
    expect(split.images).toEqual(direct.images);
    expect(a()).toBe(b());
  });

  it('refuses colour jitter (the CPU path does it)', async () => {
    const ctx = await testGpu();
    const ds = dataset(randomSet(3, 4, 4, 1), randomSet(1, 4, 4, 2));
    const out = Tensor.empty(ctx, [2, 3, 4, 4], 'f32', 'batch');
    const gpu = (await GpuBatches.create(ctx, ds, 4, 2, out))!;
    const always = {
      ...AIM_V1_AUGMENTATION,
      colorJitter: { ...AIM_V1_AUGMENTATION.colorJitter!, probability: 1 },
    };
    const params = drawTrainParams(ds.train, [0, 1], 4, always, mulberry32(1));
    expect(() => gpu.writeTrain([0, 1], params)).toThrow(/CPU/);
    gpu.destroy();
    out.destroy();
  });
});

describe('evaluation batch on the GPU = evalBatch, bit for bit', () => {
  const cases: [number, number, number, number][] = [
    // val height, width, size, batch
    [28, 28, 32, 3], // upscale, no crop
    [5, 3, 3, 2], // tall: width already the size, centre crop of rows
    [7, 12, 5, 5], // wide: resize then centre crop of columns
    [1, 1, 2, 1],
  ];
  for (const [h, w, size, batch] of cases) {
    it(`${h}×${w} → ${size}, batch ${batch}`, async () => {
      const ctx = await testGpu();
      const ds = dataset(randomSet(2, h, w, 1), randomSet(3, h, w, h + w));
      const out = Tensor.empty(ctx, [batch, 3, size, size], 'f32', 'batch');
      const gpu = (await GpuBatches.create(ctx, ds, size, batch, out))!;
      const indices = indicesFor(batch, ds.val.count);
      gpu.writeEval(indices);
      await runDispatches(ctx, gpu.dispatches);
      const got = await out.download();
      gpu.destroy();
      out.destroy();
      expect(firstDifference(got, evalBatch(ds.val, indices, size).images)).toBe('none');
    });
  }
});

describe('imageChunkPlan (whether a dataset goes on the GPU)', () => {
  const limits = (bytes: number) => ({
    limits: { maxStorageBufferBindingSize: bytes, maxBufferSize: bytes } as never,
  });
  it('splits into whole images, at most four chunks, else null', () => {
    expect(imageChunkPlan(limits(1000), 100, 5)).toEqual({ imagesPerChunk: 5, chunks: 1 });
    expect(imageChunkPlan(limits(1000), 100, 12)).toEqual({ imagesPerChunk: 9, chunks: 2 });
    expect(imageChunkPlan(limits(1000), 100, 9 * MAX_IMAGE_CHUNKS + 1)).toBeNull();
    expect(imageChunkPlan(limits(100), 101, 1)).toBeNull();
  });
  it('never exceeds the budget however large the adapter allows', () => {
    const image = 3 * 224 * 224;
    const plan = imageChunkPlan(limits(2 ** 40), image, 5000)!;
    expect(plan.chunks).toBe(3);
    expect(plan.imagesPerChunk * image).toBeLessThanOrEqual(256 * 2 ** 20);
    // ImageNet-sized sets (7.5 GB at 224 px) stay on the CPU path.
    expect(imageChunkPlan(limits(2 ** 40), image, 50_000)).toBeNull();
  });
});

describe('the browser kernel cases of the augmentation (e2e/kernels.spec.ts) pass here too', () => {
  for (const c of KERNEL_CASES.filter((k) => k.name.startsWith('augment'))) {
    it(c.name, async () => {
      const ctx = await testGpu();
      const inputs = c.inputs();
      expect(c.grade(inputs, await c.run(ctx, inputs))).toBe(0);
    });
  }
  it('grade fails a batch that differs by one value', async () => {
    const c = KERNEL_CASES.find((k) => k.name.startsWith('augment eval'))!;
    const ctx = await testGpu();
    const inputs = c.inputs();
    const outputs = await c.run(ctx, inputs);
    outputs.out[7] += 2 ** -10;
    expect(c.grade(inputs, outputs)).toBeGreaterThan(1);
  });
});
