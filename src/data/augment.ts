/**
 * Training augmentation as ml-l3m's AIM v1 recipe (configs/aimv1/001_aim_v1_600M.yaml):
 * RandomResizedCrop(size, scale [0.4, 1], ratio [3/4, 4/3], bicubic) → RandomHorizontalFlip
 * (0.5) → RandomApply([ColorJitter(0.4, 0.4, 0.2, 0.1)], p 0.8), each as torchvision does it
 * on PIL images (the colour ops are PIL's ImageEnhance and HSV conversion, in uint8).
 *
 * Randomness comes from the generator passed in, drawn in a fixed order per image:
 * crop (per attempt: area, log-aspect; on success: top, left) → flip → jitter gate → jitter
 * (permutation of the 4 ops, then brightness, contrast, saturation, hue factors). The same
 * seed gives the same images; the numbers differ from torch's, the distributions do not.
 */
import { type CropBox, resizeBicubic, roundHalfEven } from './resize';
import type { Random, RgbImage } from './dataset';

export interface ColorJitterOptions {
  /** Factor uniform in [max(0, 1 − b), 1 + b]; 0 disables the op (no random draw). */
  brightness: number;
  contrast: number;
  saturation: number;
  /** Hue shift uniform in [−h, h] turns, h ≤ 0.5; 0 disables it. */
  hue: number;
  /** RandomApply's probability of jittering an image at all. */
  probability: number;
}

export interface AugmentOptions {
  /** Crop area as a fraction of the image area. */
  scale: readonly [number, number];
  /** Crop aspect ratio width/height, sampled log-uniformly. */
  ratio: readonly [number, number];
  flipProbability: number;
  /** null: no colour jitter. */
  colorJitter: ColorJitterOptions | null;
}

/** ml-l3m's AIM v1 pre-training augmentation. */
export const AIM_V1_AUGMENTATION: AugmentOptions = {
  scale: [0.4, 1],
  ratio: [3 / 4, 4 / 3],
  flipProbability: 0.5,
  colorJitter: { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1, probability: 0.8 },
};

/** The same without colour jitter (ml-aim's paper recipe, and a cheaper option). */
export const AIM_V1_AUGMENTATION_NO_JITTER: AugmentOptions = {
  ...AIM_V1_AUGMENTATION,
  colorJitter: null,
};

/**
 * torchvision's RandomResizedCrop.get_params: up to 10 tries of a crop with area fraction
 * uniform in `scale` and aspect log-uniform in `ratio` that fits; otherwise the whole image
 * (if its aspect is within `ratio`) or the largest centred crop with the nearest allowed aspect.
 */
export function randomResizedCropParams(
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  random: Random,
): CropBox {
  if (!(scale[0] > 0 && scale[0] <= scale[1]) || !(ratio[0] > 0 && ratio[0] <= ratio[1])) {
    throw new RangeError(`scale ${scale} and ratio ${ratio} must be positive, increasing ranges`);
  }
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * random());
    const aspect = Math.exp(logLo + (logHi - logLo) * random());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = Math.floor(random() * (height - h + 1));
      const left = Math.floor(random() * (width - w + 1));
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) {
    h = roundHalfEven(w / ratio[0]);
  } else if (inRatio > ratio[1]) {
    w = roundHalfEven(h * ratio[1]);
  }
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/** PIL's FLIP_LEFT_RIGHT. */
export function horizontalFlip(img: RgbImage): RgbImage {
  const { data, height, width } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const from = row + x * 3;
      const to = row + (width - 1 - x) * 3;
      out[to] = data[from];
      out[to + 1] = data[from + 1];
      out[to + 2] = data[from + 2];
    }
  }
  return { data: out, height, width };
}

/** PIL's RGB → L: ITU-R 601-2 luma in 16-bit fixed point, rounded. */
export function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/**
 * PIL's Image.blend(degenerate, img, alpha) in uint8: alpha is a C float, the value
 * degenerate + alpha·(img − degenerate) is computed in float and truncated toward zero
 * (clipped to 0…255 when alpha is outside [0, 1]).
 */
function blendChannel(degenerate: number, value: number, alpha: number): number {
  const t = Math.fround(degenerate + Math.fround(alpha * (value - degenerate)));
  if (alpha >= 0 && alpha <= 1) return Math.trunc(t);
  return t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
}

function blendImages(img: RgbImage, degenerate: (p: number) => number, factor: number): RgbImage {
  const alpha = Math.fround(factor);
  if (alpha === 1) return { ...img, data: img.data.slice() };
  const out = new Uint8Array(img.data.length);
  for (let p = 0; p < img.data.length; p++) {
    out[p] = alpha === 0 ? degenerate(p) : blendChannel(degenerate(p), img.data[p], alpha);
  }
  return { data: out, height: img.height, width: img.width };
}

/** A blend with a constant degenerate image (brightness, contrast): a 256-entry table. */
function blendWithConstant(img: RgbImage, degenerate: number, factor: number): RgbImage {
  const alpha = Math.fround(factor);
  if (alpha === 1) return { ...img, data: img.data.slice() };
  const table = new Uint8Array(256);
  for (let v = 0; v < 256; v++)
    table[v] = alpha === 0 ? degenerate : blendChannel(degenerate, v, alpha);
  const out = new Uint8Array(img.data.length);
  for (let p = 0; p < img.data.length; p++) out[p] = table[img.data[p]];
  return { data: out, height: img.height, width: img.width };
}

/** ImageEnhance.Brightness: blend with black. */
export function adjustBrightness(img: RgbImage, factor: number): RgbImage {
  return blendWithConstant(img, 0, factor);
}

/** ImageEnhance.Contrast: blend with the image's mean luma, rounded to an integer gray. */
export function adjustContrast(img: RgbImage, factor: number): RgbImage {
  const { data } = img;
  let sum = 0;
  for (let p = 0; p < data.length; p += 3) sum += luma(data[p], data[p + 1], data[p + 2]);
  const mean = Math.trunc(sum / (data.length / 3) + 0.5);
  return blendWithConstant(img, mean, factor);
}

/** ImageEnhance.Color: blend with the image's own luma (grayscale version). */
export function adjustSaturation(img: RgbImage, factor: number): RgbImage {
  const { data } = img;
  const gray = new Uint8Array(data.length / 3);
  for (let i = 0; i < gray.length; i++)
    gray[i] = luma(data[3 * i], data[3 * i + 1], data[3 * i + 2]);
  return blendImages(img, (p) => gray[(p / 3) | 0], factor);
}

const clip8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/**
 * PIL's rgb2hsv_row (Convert.c): uint8 H, S, V written to out[at…at+2], with C's float and
 * double roundings reproduced by Math.fround where the C code stores into a float.
 */
export function rgbToHsvInto(r: number, g: number, b: number, out: Uint8Array, at: number): void {
  const f = Math.fround;
  const maxc = r > g ? (r > b ? r : b) : g > b ? g : b;
  const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
  out[at + 2] = maxc;
  if (maxc === minc) {
    out[at] = 0;
    out[at + 1] = 0;
    return;
  }
  const cr = maxc - minc;
  const s = f(cr / maxc);
  const rc = f((maxc - r) / cr);
  const gc = f((maxc - g) / cr);
  const bc = f((maxc - b) / cr);
  let h: number;
  if (r === maxc) h = f(bc - gc);
  else if (g === maxc) h = f(2 + rc - bc);
  else h = f(4 + gc - rc);
  h = f((h / 6 + 1) % 1);
  out[at] = clip8(Math.trunc(h * 255));
  out[at + 1] = clip8(Math.trunc(s * 255));
}

/** C's round(): halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** PIL's hsv2rgb (Convert.c): uint8 R, G, B written to out[at…at+2]. */
export function hsvToRgbInto(h: number, s: number, v: number, out: Uint8Array, at: number): void {
  if (s === 0) {
    out[at] = v;
    out[at + 1] = v;
    out[at + 2] = v;
    return;
  }
  const f32 = Math.fround;
  const i = Math.floor((h * 6) / 255);
  const frac = f32((h * 6) / 255 - i);
  const fs = f32(s / 255);
  const p = clip8(roundHalfAway(v * (1 - fs)));
  const q = clip8(roundHalfAway(v * (1 - f32(fs * frac))));
  const t = clip8(roundHalfAway(v * (1 - fs * (1 - frac))));
  const write = (r: number, g: number, b: number) => {
    out[at] = r;
    out[at + 1] = g;
    out[at + 2] = b;
  };
  switch (i % 6) {
    case 0:
      return write(v, t, p);
    case 1:
      return write(q, v, p);
    case 2:
      return write(p, v, t);
    case 3:
      return write(p, q, v);
    case 4:
      return write(t, p, v);
    default:
      return write(v, p, q);
  }
}

/**
 * torchvision's adjust_hue on a PIL image: to HSV (uint8), H += trunc(hue·255) modulo 256
 * (numpy uint8 wrap-around), back to RGB. `hue` in [−0.5, 0.5] turns.
 */
export function adjustHue(img: RgbImage, hue: number): RgbImage {
  if (!(hue >= -0.5 && hue <= 0.5)) throw new RangeError(`hue ${hue} is not in [-0.5, 0.5]`);
  const shift = ((Math.trunc(hue * 255) % 256) + 256) % 256;
  const { data } = img;
  const out = new Uint8Array(data.length);
  for (let p = 0; p < data.length; p += 3) {
    rgbToHsvInto(data[p], data[p + 1], data[p + 2], out, p);
    hsvToRgbInto((out[p] + shift) & 255, out[p + 1], out[p + 2], out, p);
  }
  return { data: out, height: img.height, width: img.width };
}

export interface ColorJitterParams {
  /** The order of the ops: 0 brightness, 1 contrast, 2 saturation, 3 hue (torch.randperm(4)). */
  order: number[];
  brightness: number | null;
  contrast: number | null;
  saturation: number | null;
  hue: number | null;
}

/** torchvision's ColorJitter.get_params. */
export function colorJitterParams(opts: ColorJitterOptions, random: Random): ColorJitterParams {
  const order = [0, 1, 2, 3];
  for (let i = 3; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const factor = (strength: number) =>
    strength > 0
      ? Math.max(0, 1 - strength) + (1 + strength - Math.max(0, 1 - strength)) * random()
      : null;
  const brightness = factor(opts.brightness);
  const contrast = factor(opts.contrast);
  const saturation = factor(opts.saturation);
  if (opts.hue < 0 || opts.hue > 0.5)
    throw new RangeError(`hue strength ${opts.hue} is not in [0, 0.5]`);
  const hue = opts.hue > 0 ? -opts.hue + 2 * opts.hue * random() : null;
  return { order, brightness, contrast, saturation, hue };
}

/** Applies the jitter ops in `params.order`, skipping disabled ones. */
export function colorJitter(img: RgbImage, params: ColorJitterParams): RgbImage {
  let out = img;
  for (const op of params.order) {
    if (op === 0 && params.brightness !== null) out = adjustBrightness(out, params.brightness);
    if (op === 1 && params.contrast !== null) out = adjustContrast(out, params.contrast);
    if (op === 2 && params.saturation !== null) out = adjustSaturation(out, params.saturation);
    if (op === 3 && params.hue !== null) out = adjustHue(out, params.hue);
  }
  return out;
}

/**
 * The random choices of one training view, drawn apart from the pixel work so that the GPU
 * kernel (src/kernels/augment.ts) applies exactly the choices the CPU path would.
 */
export interface AugmentParams {
  crop: CropBox;
  flip: boolean;
  /** null: this image is not jittered (jitter off, or RandomApply said no). */
  jitter: ColorJitterParams | null;
}

/**
 * Draws the choices for one image of `height` × `width`, in the fixed order of the header:
 * crop → flip → jitter gate → jitter. augmentImage consumes `random` exactly so.
 */
export function drawAugmentParams(
  height: number,
  width: number,
  opts: AugmentOptions,
  random: Random,
): AugmentParams {
  const crop = randomResizedCropParams(height, width, opts.scale, opts.ratio, random);
  const flip = random() < opts.flipProbability;
  const options = opts.colorJitter;
  const jitter =
    options && random() < options.probability ? colorJitterParams(options, random) : null;
  return { crop, flip, jitter };
}

/** The pixel work of one training view: crop+resize (PIL bicubic), flip, jitter. */
export function applyAugmentParams(
  img: RgbImage,
  outSize: number,
  params: AugmentParams,
): RgbImage {
  let out = resizeBicubic(img, outSize, outSize, params.crop);
  if (params.flip) out = horizontalFlip(out);
  if (params.jitter) out = colorJitter(out, params.jitter);
  return out;
}

/** One training view of `img` at outSize × outSize: crop+resize, flip, maybe jitter. */
export function augmentImage(
  img: RgbImage,
  outSize: number,
  opts: AugmentOptions,
  random: Random,
): RgbImage {
  return applyAugmentParams(img, outSize, drawAugmentParams(img.height, img.width, opts, random));
}
