/**
 * Bicubic resampling of uint8 RGB images, bit-for-bit as Pillow's Image.resize(…, BICUBIC)
 * (libImaging/Resample.c). ml-aim/ml-l3m apply torchvision transforms to PIL images, so PIL's
 * resampler is the one the reference trains and evaluates with:
 *
 * - Keys' cubic with a = −0.5 (torchvision's tensor path uses −0.75; PIL's is the one used).
 * - Separable: a horizontal pass, then a vertical one, each rounding to uint8 in between.
 * - Antialiased when downscaling: the kernel is stretched by the scale factor (support 2·scale).
 * - Edges: taps outside the image are dropped and the remaining weights renormalised
 *   (no clamping or mirroring of pixels).
 * - Weights in 22-bit fixed point, accumulation from 2^21 (round to nearest), clip to 0…255.
 * - A pass whose size does not change is skipped entirely (same size = exact copy).
 *
 * Sums are exact integers below 2^53 here, so the JS doubles reproduce PIL's int32 arithmetic.
 */
import type { RgbImage } from './dataset';

/** A crop rectangle in pixels: rows top…top+height−1, columns left…left+width−1. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2;

/** PIL's bicubic_filter: Keys' cubic convolution kernel with a = −0.5. */
export function bicubicKernel(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Taps of one 1-D resampling: output i reads input first[i] … first[i]+count[i]−1. */
export interface ResampleCoefficients {
  first: Int32Array;
  count: Int32Array;
  /** [outSize, ksize] fixed-point weights (PIL's normalize_coeffs_8bpc). */
  weights: Int32Array;
  ksize: number;
}

/** PIL's precompute_coeffs + normalize_coeffs_8bpc for a full-range box [0, inSize). */
export function resampleCoefficients(inSize: number, outSize: number): ResampleCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; negative starts are clamped to 0 anyway.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = bicubicKernel((x + xmin - center + 0.5) / filterScale);
      sum += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const k = sum !== 0 ? w[x] / sum : w[x];
      // Round half away from zero, as PIL's (int)(±0.5 + k·2^22).
      weights[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { first, count, weights, ksize };
}

function clip8(sum: number): number {
  const v = Math.floor(sum / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function checkImage(src: RgbImage, what: string): void {
  const { height, width, data } = src;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(`${what}: image size ${height}×${width} must be positive integers`);
  }
  if (data.length !== height * width * 3) {
    throw new RangeError(`${what}: ${data.length} bytes for a ${height}×${width} RGB image`);
  }
}

function checkCrop(src: RgbImage, crop: CropBox): void {
  const { top, left, height, width } = crop;
  const ints = [top, left, height, width].every(Number.isInteger);
  if (!ints || height < 1 || width < 1 || top < 0 || left < 0) {
    throw new RangeError(
      `crop ${JSON.stringify(crop)} must be non-negative integers with a positive size`,
    );
  }
  if (top + height > src.height || left + width > src.width) {
    throw new RangeError(
      `crop rows ${top}…${top + height - 1}, columns ${left}…${left + width - 1} leave the ${src.height}×${src.width} image`,
    );
  }
}

/** Copies `crop` out of `src` (torchvision's F.crop on a PIL image, inside the image). */
export function cropImage(src: RgbImage, crop: CropBox): RgbImage {
  checkImage(src, 'cropImage');
  checkCrop(src, crop);
  const out = new Uint8Array(crop.height * crop.width * 3);
  const rowBytes = crop.width * 3;
  for (let y = 0; y < crop.height; y++) {
    const start = ((crop.top + y) * src.width + crop.left) * 3;
    out.set(src.data.subarray(start, start + rowBytes), y * rowBytes);
  }
  return { data: out, height: crop.height, width: crop.width };
}

/**
 * `src` (or its `crop`, treated as a separate image as torchvision's resized_crop does with
 * PIL's crop + resize) resampled to outHeight × outWidth with PIL's bicubic.
 */
export function resizeBicubic(
  src: RgbImage,
  outHeight: number,
  outWidth: number,
  crop?: CropBox,
): RgbImage {
  checkImage(src, 'resizeBicubic');
  if (
    !Number.isInteger(outHeight) ||
    !Number.isInteger(outWidth) ||
    outHeight < 1 ||
    outWidth < 1
  ) {
    throw new RangeError(
      `resizeBicubic: output size ${outHeight}×${outWidth} must be positive integers`,
    );
  }
  const box = crop ?? { top: 0, left: 0, height: src.height, width: src.width };
  checkCrop(src, box);
  const needHorizontal = outWidth !== box.width;
  const needVertical = outHeight !== box.height;
  if (!needHorizontal && !needVertical) return cropImage(src, box);

  // The image the passes read: rows/columns are offsets into src within the crop.
  let data = src.data;
  let stride = src.width * 3;
  let rowOffset = box.top;
  let colOffset = box.left;
  let rows = box.height;
  let cols = box.width;

  const vertical = needVertical ? resampleCoefficients(box.height, outHeight) : null;
  if (needHorizontal) {
    // Only the source rows the vertical pass will read (PIL's ybox_first…ybox_last).
    let firstRow = 0;
    let lastRow = box.height;
    if (vertical) {
      firstRow = vertical.first[0];
      lastRow = vertical.first[outHeight - 1] + vertical.count[outHeight - 1];
    }
    const h = resampleCoefficients(box.width, outWidth);
    const tempRows = lastRow - firstRow;
    const temp = new Uint8Array(tempRows * outWidth * 3);
    for (let y = 0; y < tempRows; y++) {
      const inRow = (rowOffset + firstRow + y) * stride + colOffset * 3;
      const outRow = y * outWidth * 3;
      for (let xx = 0; xx < outWidth; xx++) {
        const k0 = xx * h.ksize;
        const x0 = inRow + h.first[xx] * 3;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let x = 0; x < h.count[xx]; x++) {
          const k = h.weights[k0 + x];
          const p = x0 + 3 * x;
          r += data[p] * k;
          g += data[p + 1] * k;
          b += data[p + 2] * k;
        }
        temp[outRow + 3 * xx] = clip8(r);
        temp[outRow + 3 * xx + 1] = clip8(g);
        temp[outRow + 3 * xx + 2] = clip8(b);
      }
    }
    data = temp;
    stride = outWidth * 3;
    rowOffset = -firstRow; // vertical taps index crop rows; temp row 0 is crop row firstRow
    colOffset = 0;
    rows = tempRows;
    cols = outWidth;
    if (!vertical) return { data: temp, height: rows, width: cols };
  }
  const v = vertical!;
  const out = new Uint8Array(outHeight * cols * 3);
  for (let yy = 0; yy < outHeight; yy++) {
    const k0 = yy * v.ksize;
    const y0 = rowOffset + v.first[yy];
    const outRow = yy * cols * 3;
    for (let xx = 0; xx < cols; xx++) {
      const colByte = (colOffset + xx) * 3;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let y = 0; y < v.count[yy]; y++) {
        const k = v.weights[k0 + y];
        const p = (y0 + y) * stride + colByte;
        r += data[p] * k;
        g += data[p + 1] * k;
        b += data[p + 2] * k;
      }
      out[outRow + 3 * xx] = clip8(r);
      out[outRow + 3 * xx + 1] = clip8(g);
      out[outRow + 3 * xx + 2] = clip8(b);
    }
  }
  return { data: out, height: outHeight, width: cols };
}

/** Python's round(): halves go to the even neighbour (used by torchvision's crop arithmetic). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's Resize(size) for an int size: the shorter side becomes `size`, the longer
 * int(size·long/short) (truncated), bicubic. An image already at that size is returned as is.
 */
export function resizeShorterSide(src: RgbImage, size: number): RgbImage {
  const { height, width } = src;
  if (width <= height) {
    if (width === size) return src;
    return resizeBicubic(src, Math.trunc((size * height) / width), size);
  }
  if (height === size) return src;
  return resizeBicubic(src, size, Math.trunc((size * width) / height));
}

/** torchvision's CenterCrop for a crop inside the image: offsets int(round((H − h) / 2)). */
export function centreCropBox(
  height: number,
  width: number,
  cropHeight: number,
  cropWidth: number,
): CropBox {
  if (cropHeight > height || cropWidth > width) {
    throw new RangeError(
      `centre crop ${cropHeight}×${cropWidth} is larger than the ${height}×${width} image`,
    );
  }
  return {
    top: roundHalfEven((height - cropHeight) / 2),
    left: roundHalfEven((width - cropWidth) / 2),
    height: cropHeight,
    width: cropWidth,
  };
}

/**
 * The square `size`×`size` view used to store images and for evaluation: Resize(shorter side
 * → size) then CenterCrop(size), as ml-aim's val_transforms do (with their 256 → 224 ratio
 * folded into the caller's choice of `resizeTo`; resizeTo = size keeps the whole shorter side).
 */
export function resizeAndCentreCrop(src: RgbImage, size: number, resizeTo = size): RgbImage {
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(resizeTo) || resizeTo < size) {
    throw new RangeError(
      `resizeAndCentreCrop: size ${size}, resizeTo ${resizeTo} (need resizeTo ≥ size ≥ 1)`,
    );
  }
  const resized = resizeShorterSide(src, resizeTo);
  const box = centreCropBox(resized.height, resized.width, size, size);
  if (box.height === resized.height && box.width === resized.width) return resized;
  return cropImage(resized, box);
}
