/**
 * Batch augmentation on the GPU (`shaders/augment_rows.wgsl`, `shaders/augment_cols.wgsl`):
 * stored uint8 images → crop → PIL bicubic resize → flip → normalised NCHW f32, equal bit
 * for bit to the CPU path (src/data/batch.ts trainBatch / evalBatch, which stays the
 * reference): the resize is PIL's integer arithmetic with the CPU's own coefficient tables,
 * and the normalisation is the CPU's own 768-entry f32 table, so there is no float rounding
 * on the GPU to differ (tolerance: none — equal after rounding to uint8, and the f32 values
 * are the same table entries).
 *
 * What is random (crop, flip) is drawn on the CPU (src/data/augment.ts drawAugmentParams)
 * and arrives as one record per image (`SAMPLE_WORDS` u32, laid out in
 * shaders/augment_common.wgsl). Colour jitter is not done here: see src/training/gpuBatches.ts.
 *
 * The images live in up to MAX_IMAGE_CHUNKS buffers of whole images (a dataset larger than
 * one binding); `imageChunkPlan` says whether a dataset fits at all, from the capabilities.
 */
import type { GpuCapabilities } from '../gpu/capabilities';
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { uniformU32 } from '../gpu/uniforms';
import { dims, requireDtype, requireSize } from './checks';
import { flatGridFor, flatKernel } from './flat';

/** u32 words per image record (shaders/augment_common.wgsl lists them). */
export const SAMPLE_WORDS = 12;
/** Chunk bindings of augment_rows.wgsl. */
export const MAX_IMAGE_CHUNKS = 4;
/**
 * The most bytes one chunk may hold even where the adapter allows more: with four chunks,
 * at most 1 GiB of stored images is put on the GPU (beyond that the CPU path is used).
 */
export const IMAGE_CHUNK_BUDGET_BYTES = 256 * 1024 * 1024;

export interface ImageChunkPlan {
  /** Whole images per chunk buffer. */
  imagesPerChunk: number;
  chunks: number;
}

/**
 * How `count` images of `imageBytes` each are split into chunk buffers on an adapter with
 * `caps`, or null when they do not fit in MAX_IMAGE_CHUNKS chunks of at most
 * min(maxStorageBufferBindingSize, maxBufferSize, IMAGE_CHUNK_BUDGET_BYTES) bytes.
 */
export function imageChunkPlan(
  caps: Pick<GpuCapabilities, 'limits'>,
  imageBytes: number,
  count: number,
): ImageChunkPlan | null {
  if (!(Number.isInteger(imageBytes) && imageBytes > 0 && Number.isInteger(count) && count > 0))
    throw new RangeError(`imageChunkPlan: ${count} images of ${imageBytes} bytes`);
  const limit = Math.min(
    caps.limits.maxStorageBufferBindingSize,
    caps.limits.maxBufferSize,
    IMAGE_CHUNK_BUDGET_BYTES,
  );
  // A chunk is padded up to whole u32 words.
  const imagesPerChunk = Math.min(count, Math.floor((limit - 3) / imageBytes));
  if (imagesPerChunk < 1) return null;
  const chunks = Math.ceil(count / imagesPerChunk);
  return chunks <= MAX_IMAGE_CHUNKS ? { imagesPerChunk, chunks } : null;
}

/** Uploads `pixels` (images of `imageBytes` each, back to back) as u32 chunk tensors. */
export function uploadImageChunks(
  ctx: GpuContext,
  pixels: Uint8Array,
  imageBytes: number,
  plan: ImageChunkPlan,
): Tensor<'u32'>[] {
  const count = pixels.length / imageBytes;
  const chunks: Tensor<'u32'>[] = [];
  for (let c = 0; c < plan.chunks; c++) {
    const first = c * plan.imagesPerChunk;
    const images = Math.min(plan.imagesPerChunk, count - first);
    const bytes = pixels.subarray(first * imageBytes, (first + images) * imageBytes);
    const words = new Uint32Array(Math.ceil(bytes.length / 4));
    new Uint8Array(words.buffer).set(bytes);
    chunks.push(Tensor.fromArray(ctx, [words.length], 'u32', words, `image chunk ${c}`));
  }
  return chunks;
}

export interface AugmentTensors {
  /** 1 to MAX_IMAGE_CHUNKS u32 buffers of packed [H, W, 3] uint8 images. */
  chunks: readonly Tensor<'u32'>[];
  /** [batch · SAMPLE_WORDS] u32 records. */
  samples: Tensor<'u32'>;
  /** i32 coefficient tables the records point into. */
  coefficients: Tensor<'i32'>;
  /** [768] f32: the normalised value of channel c at uint8 value v, at c·256 + v. */
  normalisation: Tensor<'f32'>;
  /** [batch, 3, size, size]. */
  out: Tensor<'f32'>;
}

export interface AugmentOptions {
  batch: number;
  /** Stored image rows and columns. */
  height: number;
  width: number;
  /** Output side. */
  size: number;
  /** The most taps of any table (for the dispatch cost only). */
  maxTaps: number;
}

/** Shape of the intermediate (horizontally resampled rows, packed RGB) the dispatches own. */
export function augmentRowsShape(o: Pick<AugmentOptions, 'batch' | 'height' | 'size'>): number[] {
  return [o.batch, o.height, o.size];
}

/** Two dispatches: the horizontal pass, then vertical + flip + normalise into `out`. */
export async function prepareAugment(
  ctx: GpuContext,
  { chunks, samples, coefficients, normalisation, out }: AugmentTensors,
  opts: AugmentOptions,
): Promise<PreparedDispatch[]> {
  const { batch, height, width, size, maxTaps } = opts;
  for (const n of [batch, height, width, size, maxTaps])
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`augment: ${JSON.stringify(opts)} must be positive integers`);
  if (chunks.length < 1 || chunks.length > MAX_IMAGE_CHUNKS)
    throw new RangeError(`augment: ${chunks.length} image chunks (1…${MAX_IMAGE_CHUNKS})`);
  chunks.forEach((c, i) => requireDtype('augment', `chunk ${i}`, c, 'u32'));
  requireDtype('augment', 'samples', samples, 'u32');
  requireSize('augment', 'samples', samples, batch * SAMPLE_WORDS);
  requireDtype('augment', 'coefficients', coefficients, 'i32');
  requireDtype('augment', 'normalisation', normalisation, 'f32');
  requireSize('augment', 'normalisation', normalisation, 768);
  requireDtype('augment', 'out', out, 'f32');
  requireSize('augment', 'out', out, batch * 3 * size * size, dims([batch, 3, size, size]));

  const [rowsKernel, colsKernel] = await Promise.all([
    flatKernel(ctx, { shader: 'augment_rows' }),
    flatKernel(ctx, { shader: 'augment_cols' }),
  ]);
  const rows = Tensor.empty(ctx, augmentRowsShape(opts), 'u32', 'augment rows').buffer;
  const params = uniformU32(ctx, 'augment params', [batch, height, width, size]);
  const bound = [0, 1, 2, 3].map((i) => chunks[i]?.binding ?? ctx.placeholder('read'));
  const rowValues = batch * height * size;
  const outPixels = batch * size * size;
  return [
    createDispatch(
      ctx,
      rowsKernel,
      [...bound, samples.binding, coefficients.binding, rows, params],
      flatGridFor(ctx, rowValues),
      [rows, params],
      {
        flops: 2 * 3 * maxTaps * rowValues,
        bytesRead: batch * height * width * 3 + samples.byteLength + coefficients.byteLength,
        bytesWritten: 4 * rowValues,
      },
    ),
    createDispatch(
      ctx,
      colsKernel,
      [samples.binding, coefficients.binding, rows, normalisation.binding, out.binding, params],
      flatGridFor(ctx, outPixels),
      [],
      {
        flops: 2 * 3 * maxTaps * outPixels,
        bytesRead: 4 * rowValues + samples.byteLength + coefficients.byteLength + 768 * 4,
        bytesWritten: 4 * 3 * outPixels,
      },
    ),
  ];
}

/** Runs the augmentation once into a new [batch, 3, size, size] tensor (tests, benchmarks). */
export async function augment(
  ctx: GpuContext,
  t: Omit<AugmentTensors, 'out'>,
  opts: AugmentOptions,
): Promise<Tensor<'f32'>> {
  const out = Tensor.empty(ctx, [opts.batch, 3, opts.size, opts.size], 'f32', 'augmented batch');
  await runOnce(ctx, await prepareAugment(ctx, { ...t, out }, opts));
  return out;
}
