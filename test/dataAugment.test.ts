import { describe, expect, it } from 'vitest';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  AIM_V1_AUGMENTATION,
  AIM_V1_AUGMENTATION_NO_JITTER,
  augmentImage,
  colorJitter,
  colorJitterParams,
  horizontalFlip,
  hsvToRgbInto,
  luma,
  randomResizedCropParams,
  rgbToHsvInto,
} from '../src/data/augment';
import type { RgbImage } from '../src/data/dataset';
import { resizeBicubic } from '../src/data/resize';
import { mulberry32 } from '../src/reference/random';
import * as golden from './dataPilGolden';

// The colour ops are uint8 arithmetic reproducing Pillow (blend in C float, HSV in C
// float/double); comparisons are exact. Statistical checks state their bounds where used.

function randomImage(height: number, width: number, seed: number): RgbImage {
  const next = mulberry32(seed);
  const data = new Uint8Array(height * width * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(next() * 256);
  return { data, height, width };
}

const SCALE = AIM_V1_AUGMENTATION.scale;
const RATIO = AIM_V1_AUGMENTATION.ratio;

describe('RandomResizedCrop parameters (torchvision get_params)', () => {
  it('crops lie inside the image with area in [0.4, 1] and aspect in [3/4, 4/3], up to rounding', () => {
    const random = mulberry32(11);
    const violations: string[] = [];
    for (const [H, W] of [
      [224, 224],
      [37, 53],
      [64, 23],
      [5, 5],
    ]) {
      for (let n = 0; n < 2000; n++) {
        const c = randomResizedCropParams(H, W, SCALE, RATIO, random);
        const inside = c.top >= 0 && c.left >= 0 && c.top + c.height <= H && c.left + c.width <= W;
        if (!inside) violations.push(`outside: ${JSON.stringify(c)} in ${H}×${W}`);
        if (c.height === H && c.width === W) continue; // the whole image (fallback)
        // w = round(√(A·r)), h = round(√(A/r)) with A = s·H·W: each side is off by d ≤ ½, so
        // |w·h − A| ≤ (w* + h*)/2 + ¼ ≤ (w + h)/2 + ¾, and the aspect bounds hold for w ∓ ½
        // over h ± ½.
        const slack = (c.width + c.height) / 2 + 0.75;
        const area = c.width * c.height;
        if (area < SCALE[0] * H * W - slack || area > SCALE[1] * H * W + slack) {
          violations.push(`area ${area} of ${H}×${W}`);
        }
        if (
          c.width - 0.5 > RATIO[1] * (c.height + 0.5) ||
          c.width + 0.5 < RATIO[0] * (c.height - 0.5)
        ) {
          violations.push(`aspect ${c.width}/${c.height}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('covers the range: small and full-size crops, both aspects, every offset', () => {
    const random = mulberry32(12);
    const H = 100;
    const W = 100;
    const fractions: number[] = [];
    const logAspects: number[] = [];
    let atTop = 0;
    let atBottom = 0;
    let relativeTop = 0;
    let shorter = 0;
    for (let n = 0; n < 5000; n++) {
      const c = randomResizedCropParams(H, W, SCALE, RATIO, random);
      fractions.push((c.width * c.height) / (H * W));
      logAspects.push(Math.log(c.width / c.height));
      if (c.height < H) {
        atTop += c.top === 0 ? 1 : 0;
        atBottom += c.top === H - c.height ? 1 : 0;
        relativeTop += c.top / (H - c.height);
        shorter++;
      }
    }
    expect(Math.min(...fractions)).toBeLessThan(0.42);
    expect(Math.max(...fractions)).toBeGreaterThan(0.97);
    expect(Math.min(...logAspects)).toBeLessThan(Math.log(RATIO[0]) + 0.03);
    expect(Math.max(...logAspects)).toBeGreaterThan(Math.log(RATIO[1]) - 0.03);
    // Log-uniform aspect: the mean log aspect is 0; its standard error over 5000 draws is
    // ≈ 0.166/√5000 = 0.0024 (slightly skewed by rejected tries), so 0.015 is > 6 σ.
    const meanLog = logAspects.reduce((a, b) => a + b, 0) / logAspects.length;
    expect(Math.abs(meanLog)).toBeLessThan(0.015);
    // Offsets uniform over 0…H − h: both extremes occur, and the mean relative offset is ½
    // (standard error ≈ 0.29/√5000 = 0.004; 0.02 is 5 σ).
    expect(atTop).toBeGreaterThan(0);
    expect(atBottom).toBeGreaterThan(0);
    expect(Math.abs(relativeTop / shorter - 0.5)).toBeLessThan(0.02);
  });

  it('is reproducible by seed, and seeds differ', () => {
    const draw = (seed: number) => {
      const random = mulberry32(seed);
      return Array.from({ length: 20 }, () =>
        randomResizedCropParams(31, 47, SCALE, RATIO, random),
      );
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  it('falls back to the centre crop with the aspect clamped to the ratio range', () => {
    // A 1×100 strip: no try fits (h ≥ 1 needs w ≤ 100 with w/h ≤ 4/3 and area ≥ 40 → none).
    // Fallback: in_ratio 100 > 4/3 → h = 1, w = round(1·4/3) = 1, left = (100 − 1) // 2 = 49.
    expect(randomResizedCropParams(1, 100, SCALE, RATIO, mulberry32(1))).toEqual({
      top: 0,
      left: 49,
      height: 1,
      width: 1,
    });
    // 90×3 (tall): w = 3, h = round(3 / (3/4)) = 4, top = (90 − 4) // 2 = 43.
    expect(randomResizedCropParams(90, 3, SCALE, RATIO, mulberry32(2))).toEqual({
      top: 43,
      left: 0,
      height: 4,
      width: 3,
    });
    // 1×1: every try rounds to 1×1 and fits, so it is the whole image.
    expect(randomResizedCropParams(1, 1, SCALE, RATIO, mulberry32(3))).toEqual({
      top: 0,
      left: 0,
      height: 1,
      width: 1,
    });
  });

  it('rejects empty ranges', () => {
    expect(() => randomResizedCropParams(4, 4, [0.5, 0.4], RATIO, Math.random)).toThrow(RangeError);
    expect(() => randomResizedCropParams(4, 4, SCALE, [0, 1], Math.random)).toThrow(RangeError);
  });
});

describe('horizontal flip', () => {
  it('mirrors columns, keeps channels, and is its own inverse', () => {
    const img: RgbImage = {
      data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]),
      height: 2,
      width: 3,
    };
    expect(Array.from(horizontalFlip(img).data)).toEqual([
      7, 8, 9, 4, 5, 6, 1, 2, 3, 16, 17, 18, 13, 14, 15, 10, 11, 12,
    ]);
    const odd = randomImage(5, 7, 3);
    expect(horizontalFlip(horizontalFlip(odd)).data).toEqual(odd.data);
    const column = randomImage(4, 1, 4);
    expect(horizontalFlip(column).data).toEqual(column.data);
  });
});

describe('colour jitter ops against Pillow 9.4 (golden outputs)', () => {
  const src: RgbImage = { data: Uint8Array.from(golden.SOURCE_5x7), height: 5, width: 7 };

  it('brightness, contrast, saturation (ImageEnhance) and hue (torchvision adjust_hue)', () => {
    expect(Array.from(adjustBrightness(src, 1.3).data)).toEqual(golden.BRIGHTNESS_1_3);
    expect(Array.from(adjustContrast(src, 0.7).data)).toEqual(golden.CONTRAST_0_7);
    expect(Array.from(adjustSaturation(src, 1.6).data)).toEqual(golden.SATURATION_1_6);
    expect(Array.from(adjustHue(src, -0.23).data)).toEqual(golden.HUE_MINUS_0_23);
  });

  it('a slightly different factor gives different bytes (the check can fail)', () => {
    expect(Array.from(adjustContrast(src, 0.72).data)).not.toEqual(golden.CONTRAST_0_7);
    expect(Array.from(adjustHue(src, -0.22).data)).not.toEqual(golden.HUE_MINUS_0_23);
  });
});

describe('colour jitter ops by hand', () => {
  const px = (...v: number[]): RgbImage => ({
    data: Uint8Array.from(v),
    height: 1,
    width: v.length / 3,
  });

  it('brightness scales and truncates, clipping above 255', () => {
    // 100·1.5 = 150; 101·0.5 = 50.5 → 50 (C cast truncates); 200·1.5 = 300 → 255.
    expect(Array.from(adjustBrightness(px(100, 101, 200), 1.5).data)).toEqual([150, 151, 255]);
    expect(Array.from(adjustBrightness(px(100, 101, 200), 0.5).data)).toEqual([50, 50, 100]);
    expect(Array.from(adjustBrightness(px(100, 101, 200), 0).data)).toEqual([0, 0, 0]);
  });

  it('contrast blends towards the rounded mean luma', () => {
    // Black and white: lumas 0 and 255, mean 127.5 → int(128.0) = 128.
    // 0.5: 128 + 0.5·(0 − 128) = 64, 128 + 0.5·127 = 191.5 → 191.
    const bw = px(0, 0, 0, 255, 255, 255);
    expect(Array.from(adjustContrast(bw, 0.5).data)).toEqual([64, 64, 64, 191, 191, 191]);
    expect(Array.from(adjustContrast(bw, 0).data)).toEqual([128, 128, 128, 128, 128, 128]);
  });

  it('saturation 0 is PIL grayscale; luma is ITU-R 601-2', () => {
    expect(luma(255, 0, 0)).toBe(76); // 0.299·255 = 76.2
    expect(luma(0, 255, 0)).toBe(150); // 0.587·255 = 149.7
    expect(luma(0, 0, 255)).toBe(29); // 0.114·255 = 29.07
    expect(Array.from(adjustSaturation(px(255, 0, 0), 0).data)).toEqual([76, 76, 76]);
  });

  it('hue: a third of a turn takes red to green and green to blue; gray stays gray', () => {
    // shift = trunc(255/3) = 85: H 0 → 85 → sector 2, f = 0 → (p, v, t) = (0, 255, 0).
    expect(Array.from(adjustHue(px(255, 0, 0), 1 / 3).data)).toEqual([0, 255, 0]);
    expect(Array.from(adjustHue(px(0, 255, 0), 1 / 3).data)).toEqual([0, 0, 255]);
    expect(Array.from(adjustHue(px(90, 90, 90), 0.27).data)).toEqual([90, 90, 90]);
    expect(() => adjustHue(px(1, 2, 3), 0.6)).toThrow(RangeError);
  });

  it('HSV conversions: pure colours and quantisation as PIL', () => {
    const hsv = new Uint8Array(3);
    rgbToHsvInto(0, 0, 255, hsv, 0);
    expect(Array.from(hsv)).toEqual([170, 255, 255]); // 4/6 of a turn → trunc(170.0)
    const rgb = new Uint8Array(3);
    hsvToRgbInto(170, 255, 255, rgb, 0);
    expect(Array.from(rgb)).toEqual([0, 0, 255]);
    hsvToRgbInto(0, 0, 77, rgb, 0);
    expect(Array.from(rgb)).toEqual([77, 77, 77]);
  });

  it('factor 1 and hue 0 leave images unchanged (gray and saturated inputs)', () => {
    const img = randomImage(3, 4, 9);
    expect(adjustBrightness(img, 1).data).toEqual(img.data);
    expect(adjustContrast(img, 1).data).toEqual(img.data);
    expect(adjustSaturation(img, 1).data).toEqual(img.data);
  });
});

describe('ColorJitter parameters and application', () => {
  const opts = AIM_V1_AUGMENTATION.colorJitter!;

  it('factors lie in their ranges and the order is a permutation', () => {
    const random = mulberry32(21);
    const orders = new Set<string>();
    for (let n = 0; n < 2000; n++) {
      const p = colorJitterParams(opts, random);
      expect([...p.order].sort()).toEqual([0, 1, 2, 3]);
      orders.add(p.order.join(''));
      expect(p.brightness!).toBeGreaterThanOrEqual(0.6);
      expect(p.brightness!).toBeLessThanOrEqual(1.4);
      expect(p.contrast!).toBeGreaterThanOrEqual(0.6);
      expect(p.contrast!).toBeLessThanOrEqual(1.4);
      expect(p.saturation!).toBeGreaterThanOrEqual(0.8);
      expect(p.saturation!).toBeLessThanOrEqual(1.2);
      expect(Math.abs(p.hue!)).toBeLessThanOrEqual(0.1);
    }
    expect(orders.size).toBe(24); // all 4! orders occur
  });

  it('a zero strength disables that op; brightness 1.0 clips its range at 0', () => {
    const p = colorJitterParams({ ...opts, contrast: 0, hue: 0 }, mulberry32(1));
    expect(p.contrast).toBeNull();
    expect(p.hue).toBeNull();
    const random = mulberry32(2);
    for (let n = 0; n < 200; n++) {
      const b = colorJitterParams({ ...opts, brightness: 1 }, random).brightness!;
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThanOrEqual(2);
    }
  });

  it('applies the ops in the drawn order', () => {
    const img = randomImage(4, 5, 13);
    const params = {
      order: [3, 0, 2, 1],
      brightness: 1.2,
      contrast: 0.8,
      saturation: 1.1,
      hue: 0.05,
    };
    const manual = adjustContrast(
      adjustSaturation(adjustBrightness(adjustHue(img, 0.05), 1.2), 1.1),
      0.8,
    );
    expect(colorJitter(img, params).data).toEqual(manual.data);
    const otherOrder = colorJitter(img, { ...params, order: [0, 1, 2, 3] });
    expect(otherOrder.data).not.toEqual(manual.data);
  });
});

describe('augmentImage (the whole training view)', () => {
  const img = randomImage(20, 26, 17);

  it('is crop+resize, then flip, then jitter, drawing from the generator in that order', () => {
    const random = mulberry32(99);
    const crop = randomResizedCropParams(20, 26, SCALE, RATIO, random);
    let want = resizeBicubic(img, 8, 8, crop);
    if (random() < 0.5) want = horizontalFlip(want);
    if (random() < 0.8)
      want = colorJitter(want, colorJitterParams(AIM_V1_AUGMENTATION.colorJitter!, random));
    expect(augmentImage(img, 8, AIM_V1_AUGMENTATION, mulberry32(99)).data).toEqual(want.data);
  });

  it('jitter with p = 0 is the same as no jitter (only the gate number is drawn)', () => {
    const noJitter = {
      ...AIM_V1_AUGMENTATION,
      colorJitter: { ...AIM_V1_AUGMENTATION.colorJitter!, probability: 0 },
    };
    for (let seed = 0; seed < 20; seed++) {
      const a = augmentImage(img, 9, noJitter, mulberry32(seed));
      const b = augmentImage(img, 9, AIM_V1_AUGMENTATION_NO_JITTER, mulberry32(seed));
      expect(a.data).toEqual(b.data);
    }
  });

  it('flip probability 0 and 1 give mirror images of each other', () => {
    const never = { ...AIM_V1_AUGMENTATION_NO_JITTER, flipProbability: 0 };
    const always = { ...AIM_V1_AUGMENTATION_NO_JITTER, flipProbability: 1 };
    const a = augmentImage(img, 7, never, mulberry32(4));
    const b = augmentImage(img, 7, always, mulberry32(4));
    expect(horizontalFlip(a).data).toEqual(b.data);
  });

  it('is reproducible by seed, and seeds differ', () => {
    expect(augmentImage(img, 6, AIM_V1_AUGMENTATION, mulberry32(3)).data).toEqual(
      augmentImage(img, 6, AIM_V1_AUGMENTATION, mulberry32(3)).data,
    );
    expect(augmentImage(img, 6, AIM_V1_AUGMENTATION, mulberry32(3)).data).not.toEqual(
      augmentImage(img, 6, AIM_V1_AUGMENTATION, mulberry32(4)).data,
    );
  });
});
