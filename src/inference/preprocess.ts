/**
 * ml-aim's evaluation transform for running a model on one picture:
 *
 *   Resize(resizeTo, BICUBIC) → CenterCrop(crop) → ToTensor → Normalize(ImageNet mean, std)
 *
 * applied, as ml-aim does, to a PIL image. Every step reproduces torchvision's arithmetic so a
 * checkpoint sees the same input it was evaluated with in Python:
 *
 * - Resize: the shorter side becomes resizeTo, the longer int(resizeTo · long / short), a
 *   double division truncated (torchvision's `_compute_resized_output_size`); an image
 *   already at that size is passed through untouched. Resampling is Pillow's bicubic
 *   (src/data/resize.ts, bit-exact), since torchvision hands PIL images to Pillow.
 * - CenterCrop: offsets int(round((H − crop) / 2)) with Python's round (halves to even). A
 *   dimension smaller than the crop is first padded with zeros, (crop − H) // 2 before and the
 *   rest after, as torchvision's center_crop does — so the crop box may start at a negative
 *   offset and the pixels outside the image are black.
 * - ToTensor + Normalize: the float32 op sequence of torch, via src/data/batch.ts's table.
 *
 * resizeTo defaults to ceil(crop / 0.875), the paper's 256 → 224 ratio generalised to any
 * model size (224 → 256, 32 → 37).
 */
import { normaliseInto } from '../data/batch';
import type { RgbImage } from '../data/dataset';
import { type CropBox, resizeBicubic, roundHalfEven } from '../data/resize';

/** ml-aim evaluates at crop 224 after resizing to 256: the crop keeps 87.5 % of the side. */
export const EVAL_CROP_FRACTION = 0.875;

/** The evaluation resize for a crop size: ceil(crop / 0.875). */
export function evalResizeFor(crop: number): number {
  return Math.ceil(crop / EVAL_CROP_FRACTION);
}

/** What the evaluation transform does to an image of a given size. */
export interface EvalTransformSizes {
  /** The requested shorter side. */
  resizeTo: number;
  /** The image after Resize (equal to the input when no resampling happens). */
  resizedWidth: number;
  resizedHeight: number;
  /** False when the input already has the resized size (torchvision returns it as is). */
  resampled: boolean;
  /**
   * The crop in resized-image coordinates. top/left are negative where the image is smaller
   * than the crop and torchvision pads it with zeros.
   */
  crop: CropBox;
}

function checkPositiveInt(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} ${value} must be a positive integer`);
  }
}

/** torchvision's Resize(size) output size for an int size (shorter side → size). */
export function resizedSize(
  width: number,
  height: number,
  size: number,
): { width: number; height: number } {
  // torchvision compares w <= h, so a square image is treated as portrait (no difference).
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** One axis of torchvision's center_crop: the crop's start in the unpadded image. */
function centreOffset(size: number, crop: number): number {
  // Padding makes the axis exactly `crop` long, whose anchor is then 0; in the original
  // image's coordinates that is minus the padding added before it.
  if (crop > size) return -Math.floor((crop - size) / 2);
  return roundHalfEven((size - crop) / 2);
}

/** torchvision's CenterCrop box for a cropH × cropW crop of a height × width image. */
export function centreCropBoxPadded(
  height: number,
  width: number,
  cropHeight: number,
  cropWidth: number,
): CropBox {
  return {
    top: centreOffset(height, cropHeight),
    left: centreOffset(width, cropWidth),
    height: cropHeight,
    width: cropWidth,
  };
}

/**
 * The sizes ml-aim's evaluation transform produces for a width × height input and a square
 * crop (resizeTo as ml-aim derives it unless given).
 */
export function evalTransformSizes(
  width: number,
  height: number,
  crop: number,
  resizeTo = evalResizeFor(crop),
): EvalTransformSizes {
  checkPositiveInt(width, 'image width');
  checkPositiveInt(height, 'image height');
  checkPositiveInt(crop, 'crop size');
  checkPositiveInt(resizeTo, 'resize size');
  const { width: resizedWidth, height: resizedHeight } = resizedSize(width, height, resizeTo);
  return {
    resizeTo,
    resizedWidth,
    resizedHeight,
    resampled: resizedWidth !== width || resizedHeight !== height,
    crop: centreCropBoxPadded(resizedHeight, resizedWidth, crop, crop),
  };
}

/**
 * Copies `box` out of `src`; where the box leaves the image the pixels are 0 (torchvision's
 * zero padding in center_crop).
 */
export function cropWithZeroPadding(src: RgbImage, box: CropBox): RgbImage {
  const out = new Uint8Array(box.height * box.width * 3);
  // Only the part of the box that overlaps the image is copied; the rest stays 0.
  const x0 = Math.max(0, box.left);
  const x1 = Math.min(src.width, box.left + box.width);
  for (let y = 0; y < box.height; y++) {
    const sy = box.top + y;
    if (sy < 0 || sy >= src.height || x1 <= x0) continue;
    const from = (sy * src.width + x0) * 3;
    out.set(src.data.subarray(from, from + (x1 - x0) * 3), (y * box.width + (x0 - box.left)) * 3);
  }
  return { data: out, height: box.height, width: box.width };
}

/** The model's input and the picture it was made from. */
export interface AimInput {
  /** [1, 3, crop, crop], normalised with the ImageNet mean/std (NCHW). */
  tensor: Float32Array;
  /** The crop × crop uint8 RGB picture the tensor encodes, for display under overlays. */
  cropped: RgbImage;
}

/** ml-aim's evaluation transform of `image` for a model that takes crop × crop inputs. */
export function preprocessForAim(
  image: RgbImage,
  crop: number,
  resizeTo = evalResizeFor(crop),
): AimInput {
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(
      `preprocessForAim: ${image.data.length} bytes for a ${image.height}×${image.width} RGB image`,
    );
  }
  const sizes = evalTransformSizes(image.width, image.height, crop, resizeTo);
  const resized = sizes.resampled
    ? resizeBicubic(image, sizes.resizedHeight, sizes.resizedWidth)
    : image;
  const cropped = cropWithZeroPadding(resized, sizes.crop);
  const tensor = new Float32Array(3 * crop * crop);
  normaliseInto(tensor, 0, cropped);
  return { tensor, cropped };
}
