/**
 * The dataset on the GPU: a run's train and val images uploaded once (src/kernels/augment.ts
 * chunks), the PIL bicubic coefficient tables every crop size needs, and the per-image
 * records that turn the CPU's random choices (drawTrainParams) or evalView's fixed geometry
 * into the model's input batch inside the step's own submission.
 *
 * Colour jitter stays on the CPU (`supports` says no): PIL's HSV conversion rounds C float
 * divisions that WGSL's f32 division (2.5 ulp) does not reproduce, so a GPU version could
 * not equal the reference; such runs assemble their batch on the CPU one step ahead instead.
 */
import type { AugmentParams } from '../data/augment';
import { evalGeometry, NORMALISATION_TABLE } from '../data/batch';
import type { ImageDataset, RgbImages } from '../data/dataset';
import { resampleCoefficients, type CropBox } from '../data/resize';
import type { GpuCapabilities } from '../gpu/capabilities';
import type { GpuContext } from '../gpu/context';
import { releaseDispatch, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import {
  augmentRowsShape,
  imageChunkPlan,
  type ImageChunkPlan,
  MAX_IMAGE_CHUNKS,
  prepareAugment,
  SAMPLE_WORDS,
  uploadImageChunks,
} from '../kernels/augment';

/** The i32 tables of several (inSize → outSize) resamplings, back to back. */
class CoefficientTables {
  private readonly parts: Int32Array[] = [];
  private readonly at = new Map<string, { offset: number; taps: number }>();
  /** i32 values of all tables. */
  length = 0;
  maxTaps = 1;

  /** The table for inSize → outSize if it was added (uploaded tables only). */
  find(inSize: number, outSize: number): { offset: number; taps: number } {
    const entry = this.at.get(`${inSize}>${outSize}`);
    if (!entry) throw new RangeError(`no coefficient table for ${inSize} → ${outSize}`);
    return entry;
  }

  /** The offset and taps of the table for inSize → outSize, added on first use. */
  table(inSize: number, outSize: number): { offset: number; taps: number } {
    const key = `${inSize}>${outSize}`;
    let entry = this.at.get(key);
    if (!entry) {
      const c = resampleCoefficients(inSize, outSize);
      const stride = 2 + c.ksize;
      const part = new Int32Array(outSize * stride);
      for (let i = 0; i < outSize; i++) {
        part[i * stride] = c.first[i];
        part[i * stride + 1] = c.count[i];
        part.set(c.weights.subarray(i * c.ksize, (i + 1) * c.ksize), i * stride + 2);
      }
      entry = { offset: this.length, taps: c.ksize };
      this.parts.push(part);
      this.length += part.length;
      this.maxTaps = Math.max(this.maxTaps, c.ksize);
      this.at.set(key, entry);
    }
    return entry;
  }

  concat(): Int32Array {
    const all = new Int32Array(Math.max(1, this.length));
    let o = 0;
    for (const p of this.parts) {
      all.set(p, o);
      o += p.length;
    }
    return all;
  }
}

/** How a dataset would be laid out on the GPU (null: it stays on the CPU path). */
export interface GpuBatchPlan {
  chunkPlan: ImageChunkPlan;
  imageBytes: number;
  images: number;
  height: number;
  tables: CoefficientTables;
}

/**
 * The GPU layout of `dataset` for outputs of `size`², or null when train and val differ in
 * resolution or the images exceed the budget of imageChunkPlan (from the capabilities).
 */
export function planGpuBatches(
  caps: Pick<GpuCapabilities, 'limits'>,
  dataset: ImageDataset,
  size: number,
  /** Tests ask for small chunks to exercise several. */
  imagesPerChunk?: number,
): GpuBatchPlan | null {
  const { train, val } = dataset;
  if (train.height !== val.height || train.width !== val.width) return null;
  const { height, width } = train;
  const imageBytes = height * width * 3;
  const images = train.count + val.count;
  const fits = imageChunkPlan(caps, imageBytes, images);
  if (!fits) return null;
  const perChunk = Math.min(fits.imagesPerChunk, imagesPerChunk ?? Infinity);
  const chunkPlan = { imagesPerChunk: perChunk, chunks: Math.ceil(images / perChunk) };
  if (chunkPlan.chunks > MAX_IMAGE_CHUNKS) return null;
  // Every table a batch can point at: each crop side → size, and evalView's two resizes.
  const tables = new CoefficientTables();
  for (let n = 1; n <= Math.max(height, width); n++) tables.table(n, size);
  const g = evalGeometry(height, width, size);
  tables.table(height, g.resizedHeight);
  tables.table(width, g.resizedWidth);
  return { chunkPlan, imageBytes, images, height, tables };
}

/**
 * The storage buffers GpuBatches.create allocates for `plan` (for src/model/memory.ts):
 * 'dataset' for the images and tables, 'kernelScratch' for the dispatches' own rows buffer.
 */
export function gpuBatchBuffers(
  plan: GpuBatchPlan,
  size: number,
  batch: number,
): { label: string; bytes: number; category: 'dataset' | 'kernelScratch' }[] {
  const { chunkPlan, imageBytes, images } = plan;
  const chunks = Array.from({ length: chunkPlan.chunks }, (_, c) => {
    const count = Math.min(chunkPlan.imagesPerChunk, images - c * chunkPlan.imagesPerChunk);
    return {
      label: `image chunk ${c}`,
      bytes: 4 * Math.ceil((count * imageBytes) / 4),
      category: 'dataset' as const,
    };
  });
  return [
    ...chunks,
    { label: 'augment coefficients', bytes: 4 * plan.tables.length, category: 'dataset' },
    { label: 'normalisation table', bytes: 4 * 768, category: 'dataset' },
    { label: 'augment records', bytes: 4 * batch * SAMPLE_WORDS, category: 'dataset' },
    {
      label: 'augment rows',
      bytes: 4 * augmentRowsShape({ batch, height: plan.height, size }).reduce((a, b) => a * b),
      category: 'kernelScratch',
    },
  ];
}

export class GpuBatches {
  private constructor(
    private readonly dataset: ImageDataset,
    private readonly size: number,
    private readonly batch: number,
    private readonly tables: CoefficientTables,
    private readonly imagesPerChunk: number,
    /** Bytes of the images on the GPU (train and val). */
    readonly imageBytes: number,
    private readonly owned: Tensor[],
    private readonly samples: Tensor<'u32'>,
    /** The two dispatches that write the model's input images from `samples`. */
    readonly dispatches: readonly PreparedDispatch[],
  ) {}

  /**
   * Uploads `dataset` for batches of `batch` images of `size`² into `out`, or returns null
   * when the images do not fit the adapter's budget (imageChunkPlan) or train and val
   * differ in resolution: the caller keeps the CPU path.
   */
  static async create(
    ctx: GpuContext,
    dataset: ImageDataset,
    size: number,
    batch: number,
    out: Tensor<'f32'>,
    opts: { imagesPerChunk?: number } = {},
  ): Promise<GpuBatches | null> {
    const planned = planGpuBatches(ctx.capabilities, dataset, size, opts.imagesPerChunk);
    if (!planned) return null;
    const { train, val } = dataset;
    const { chunkPlan: plan, imageBytes, tables } = planned;
    const pixels = new Uint8Array((train.count + val.count) * imageBytes);
    pixels.set(train.pixels.subarray(0, train.count * imageBytes));
    pixels.set(val.pixels.subarray(0, val.count * imageBytes), train.count * imageBytes);
    const chunks = uploadImageChunks(ctx, pixels, imageBytes, plan);
    const { height, width } = train;
    const allTables = tables.concat();
    const coefficients = Tensor.fromArray(
      ctx,
      [allTables.length],
      'i32',
      allTables,
      'augment coefficients',
    );
    const normalisation = Tensor.fromArray(
      ctx,
      [768],
      'f32',
      NORMALISATION_TABLE,
      'normalisation table',
    );
    const samples = Tensor.empty(ctx, [batch * SAMPLE_WORDS], 'u32', 'augment records');
    const dispatches = await prepareAugment(
      ctx,
      { chunks, samples, coefficients, normalisation, out },
      { batch, height, width, size, maxTaps: tables.maxTaps },
    );
    return new GpuBatches(
      dataset,
      size,
      batch,
      tables,
      plan.imagesPerChunk,
      pixels.length,
      [...chunks, coefficients, normalisation, samples],
      samples,
      dispatches,
    );
  }

  /** Bytes of the storage buffers this owns (images, tables, records; not the dispatches' rows). */
  get bytes(): number {
    return this.owned.reduce((n, t) => n + t.byteLength, 0);
  }

  /** Records for training images `indices` with the choices `params` (drawTrainParams). */
  writeTrain(indices: ArrayLike<number>, params: readonly AugmentParams[]): void {
    const { train } = this.dataset;
    this.check(train, indices);
    if (params.length !== indices.length)
      throw new RangeError(`${params.length} augmentations for ${indices.length} images`);
    const records = new Uint32Array(this.batch * SAMPLE_WORDS);
    for (let k = 0; k < indices.length; k++) {
      const p = params[k];
      if (p.jitter) throw new RangeError('colour jitter is done on the CPU, not by GpuBatches');
      const cols = this.tables.find(p.crop.width, this.size);
      const rows = this.tables.find(p.crop.height, this.size);
      this.record(records, k, indices[k], p.crop, cols, rows, 0, 0, p.flip);
    }
    this.samples.upload(records);
  }

  /** Records for evalView (src/data/batch.ts) of validation images `indices`. */
  writeEval(indices: ArrayLike<number>): void {
    const { val, train } = this.dataset;
    this.check(val, indices);
    const { height, width } = val;
    const g = evalGeometry(height, width, this.size);
    const cols = this.tables.find(width, g.resizedWidth);
    const rows = this.tables.find(height, g.resizedHeight);
    const box = { top: 0, left: 0, height, width };
    const records = new Uint32Array(this.batch * SAMPLE_WORDS);
    for (let k = 0; k < indices.length; k++)
      this.record(records, k, train.count + indices[k], box, cols, rows, g.top, g.left, false);
    this.samples.upload(records);
  }

  destroy(): void {
    this.dispatches.forEach(releaseDispatch);
    for (const t of this.owned) t.destroy();
  }

  private check(set: RgbImages, indices: ArrayLike<number>): void {
    if (indices.length !== this.batch)
      throw new RangeError(`${indices.length} images for a batch of ${this.batch}`);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= set.count)
        throw new RangeError(`batch index ${i} (position ${k}) is outside 0…${set.count - 1}`);
    }
  }

  private record(
    records: Uint32Array,
    slot: number,
    image: number,
    crop: Pick<CropBox, 'top' | 'left' | 'height'>,
    cols: { offset: number; taps: number },
    rows: { offset: number; taps: number },
    outTop: number,
    outLeft: number,
    flip: boolean,
  ): void {
    const imageBytes = this.dataset.train.height * this.dataset.train.width * 3;
    const chunk = Math.floor(image / this.imagesPerChunk);
    const at = slot * SAMPLE_WORDS;
    records[at] = chunk;
    records[at + 1] = (image - chunk * this.imagesPerChunk) * imageBytes;
    records[at + 2] = crop.top;
    records[at + 3] = crop.left;
    records[at + 4] = crop.height;
    records[at + 5] = cols.offset;
    records[at + 6] = cols.taps;
    records[at + 7] = rows.offset;
    records[at + 8] = rows.taps;
    records[at + 9] = outTop;
    records[at + 10] = outLeft;
    records[at + 11] = flip ? 1 : 0;
  }
}
