/**
 * Batch assembly: stored uint8 images → the model's input, Float32Array [N, 3, S, S] (NCHW,
 * what src/kernels/patchify expects), normalised as torchvision's ToTensor + Normalize with
 * the ImageNet mean/std that ml-aim/ml-l3m use, plus the labels.
 *
 * Normalisation is bit-exact with torch's float32 ops: x = fl(fl(fl(v / 255) − mean) / std),
 * mean and std rounded to f32. There are only 256 inputs per channel, so it is a lookup table.
 */
import {
  type AugmentOptions,
  type AugmentParams,
  applyAugmentParams,
  drawAugmentParams,
} from './augment';
import { imageAt, type Random, type RgbImage, type RgbImages } from './dataset';
import { centreCropBox, resizeAndCentreCrop } from './resize';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export interface Batch {
  /** [count, 3, size, size], normalised. */
  images: Float32Array;
  /** Class index of each image (u32, as the GPU reads it). */
  labels: Uint32Array;
  count: number;
  size: number;
}

/** table[c·256 + v]: the normalised value of channel c at uint8 value v. */
function buildNormalisationTable(): Float32Array {
  const f = Math.fround;
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = f(IMAGENET_MEAN[c]);
    const std = f(IMAGENET_STD[c]);
    for (let v = 0; v < 256; v++) table[c * 256 + v] = f(f(f(v / 255) - mean) / std);
  }
  return table;
}

export const NORMALISATION_TABLE = buildNormalisationTable();

/** Writes `img` (HWC uint8) normalised into `out` at image slot `slot` in CHW order. */
export function normaliseInto(out: Float32Array, slot: number, img: RgbImage): void {
  const plane = img.height * img.width;
  const base = slot * 3 * plane;
  if (base + 3 * plane > out.length) {
    throw new RangeError(`slot ${slot} of a ${img.height}×${img.width} image overruns the batch`);
  }
  const { data } = img;
  for (let i = 0; i < plane; i++) {
    out[base + i] = NORMALISATION_TABLE[data[3 * i]];
    out[base + plane + i] = NORMALISATION_TABLE[256 + data[3 * i + 1]];
    out[base + 2 * plane + i] = NORMALISATION_TABLE[512 + data[3 * i + 2]];
  }
}

function checkIndices(set: RgbImages, indices: ArrayLike<number>, size: number): void {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`batch image size ${size} must be a positive integer`);
  if (indices.length < 1) throw new RangeError('a batch needs at least one image');
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.count) {
      throw new RangeError(`batch index ${i} (position ${k}) is outside 0…${set.count - 1}`);
    }
  }
}

/**
 * The random choices of a training batch, image by image, consuming `random` exactly as
 * trainBatch does (the GPU path draws these and leaves the pixel work to the GPU).
 */
export function drawTrainParams(
  set: RgbImages,
  indices: ArrayLike<number>,
  size: number,
  augment: AugmentOptions,
  random: Random,
): AugmentParams[] {
  checkIndices(set, indices, size);
  return Array.from({ length: indices.length }, () =>
    drawAugmentParams(set.height, set.width, augment, random),
  );
}

/** The pixel work of a training batch for choices drawn by drawTrainParams. */
export function trainBatchFromParams(
  set: RgbImages,
  indices: ArrayLike<number>,
  size: number,
  params: readonly AugmentParams[],
): Batch {
  checkIndices(set, indices, size);
  if (params.length !== indices.length)
    throw new RangeError(`${params.length} augmentations for ${indices.length} images`);
  const images = new Float32Array(indices.length * 3 * size * size);
  const labels = new Uint32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    normaliseInto(images, k, applyAugmentParams(imageAt(set, indices[k]), size, params[k]));
    labels[k] = set.labels[indices[k]];
  }
  return { images, labels, count: indices.length, size };
}

/** Training batch: each image augmented (src/data/augment.ts) to size × size, then normalised. */
export function trainBatch(
  set: RgbImages,
  indices: ArrayLike<number>,
  size: number,
  augment: AugmentOptions,
  random: Random,
): Batch {
  const params = drawTrainParams(set, indices, size, augment, random);
  return trainBatchFromParams(set, indices, size, params);
}

/** Where evalView's output lies: the shorter-side resize's size and the centre crop's corner. */
export interface EvalGeometry {
  resizedHeight: number;
  resizedWidth: number;
  top: number;
  left: number;
}

/**
 * evalView's geometry for a height × width image, as resizeAndCentreCrop computes it
 * (torchvision's Resize(int): shorter side → resizeTo, longer truncated; CenterCrop(size)).
 */
export function evalGeometry(
  height: number,
  width: number,
  size: number,
  cropFraction = 1,
): EvalGeometry {
  if (!(cropFraction > 0 && cropFraction <= 1)) {
    throw new RangeError(`cropFraction ${cropFraction} must be in (0, 1]`);
  }
  const resizeTo = Math.max(size, Math.ceil(size / cropFraction));
  let resizedHeight = height;
  let resizedWidth = width;
  if (width <= height) {
    if (width !== resizeTo) {
      resizedHeight = Math.trunc((resizeTo * height) / width);
      resizedWidth = resizeTo;
    }
  } else if (height !== resizeTo) {
    resizedHeight = resizeTo;
    resizedWidth = Math.trunc((resizeTo * width) / height);
  }
  const box = centreCropBox(resizedHeight, resizedWidth, size, size);
  return { resizedHeight, resizedWidth, top: box.top, left: box.left };
}

/**
 * The deterministic evaluation view of one image: Resize(shorter side → ceil(size /
 * cropFraction)) then CenterCrop(size), as ml-aim's val_transforms; cropFraction = 1 is a plain resize, 0.875 is
 * ml-l3m's eval_transform (256 → 224).
 */
export function evalView(img: RgbImage, size: number, cropFraction = 1): RgbImage {
  if (!(cropFraction > 0 && cropFraction <= 1)) {
    throw new RangeError(`cropFraction ${cropFraction} must be in (0, 1]`);
  }
  return resizeAndCentreCrop(img, size, Math.max(size, Math.ceil(size / cropFraction)));
}

/** Evaluation batch: no randomness, evalView of each image, normalised. */
export function evalBatch(
  set: RgbImages,
  indices: ArrayLike<number>,
  size: number,
  cropFraction = 1,
): Batch {
  checkIndices(set, indices, size);
  const images = new Float32Array(indices.length * 3 * size * size);
  const labels = new Uint32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    normaliseInto(images, k, evalView(imageAt(set, indices[k]), size, cropFraction));
    labels[k] = set.labels[indices[k]];
  }
  return { images, labels, count: indices.length, size };
}

/** 0…count−1 in a seeded random order (one epoch's sampling order). */
export function shuffledIndices(count: number, random: Random): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
