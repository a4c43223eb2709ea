import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../src/data/dataset';
import {
  bicubicKernel,
  centreCropBox,
  cropImage,
  resampleCoefficients,
  resizeAndCentreCrop,
  resizeBicubic,
  resizeShorterSide,
  roundHalfEven,
} from '../src/data/resize';
import { mulberry32 } from '../src/reference/random';
import * as golden from './dataPilGolden';

// Resizing is integer arithmetic reproducing Pillow exactly, so every comparison here is
// exact equality: there is no rounding slack to justify, and one wrong tap or index changes
// some output byte.

function image(height: number, width: number, values: ArrayLike<number>): RgbImage {
  return { data: Uint8Array.from(values), height, width };
}

function randomImage(height: number, width: number, seed: number): RgbImage {
  const next = mulberry32(seed);
  return image(
    height,
    width,
    Array.from({ length: height * width * 3 }, () => Math.floor(next() * 256)),
  );
}

/** A gray image (R = G = B) from one value per pixel. */
function gray(height: number, width: number, values: number[]): RgbImage {
  return image(
    height,
    width,
    values.flatMap((v) => [v, v, v]),
  );
}

const redChannel = (img: RgbImage) => Array.from(img.data.filter((_, i) => i % 3 === 0));

describe('Keys bicubic kernel (a = −0.5, PIL)', () => {
  it('has the textbook values', () => {
    expect(bicubicKernel(0)).toBe(1);
    expect(bicubicKernel(1) === 0).toBe(true); // −0 from the outer branch
    expect(bicubicKernel(2) === 0).toBe(true);
    expect(bicubicKernel(0.5)).toBe(0.5625); // 1 − 2.5·0.25 + 1.5·0.125
    expect(bicubicKernel(-1.5)).toBe(-0.0625); // −0.5·(1.5³ − 5·1.5² + 8·1.5 − 4)
    expect(bicubicKernel(2.5)).toBe(0);
  });

  it('normalised fixed-point taps sum to 2^22 within rounding', () => {
    for (const [inSize, outSize] of [
      [7, 3],
      [3, 7],
      [224, 17],
      [1, 5],
      [5, 1],
    ]) {
      const c = resampleCoefficients(inSize, outSize);
      for (let i = 0; i < outSize; i++) {
        let sum = 0;
        for (let k = 0; k < c.count[i]; k++) sum += c.weights[i * c.ksize + k];
        // Each of ≤ ksize taps is rounded by ≤ 1/2 unit.
        expect(Math.abs(sum - 2 ** 22)).toBeLessThanOrEqual(c.ksize / 2);
        expect(c.first[i]).toBeGreaterThanOrEqual(0);
        expect(c.first[i] + c.count[i]).toBeLessThanOrEqual(inSize);
      }
    }
  });
});

describe('resizeBicubic against hand-computed values', () => {
  it('same size is an exact copy (PIL skips both passes)', () => {
    const src = randomImage(5, 7, 1);
    const out = resizeBicubic(src, 5, 7);
    expect(out.data).toEqual(src.data);
    expect(out.data).not.toBe(src.data);
  });

  it('a constant image stays constant at any size, both directions', () => {
    const src = image(6, 9, Array.from({ length: 6 * 9 }, () => [17, 200, 255]).flat());
    for (const [h, w] of [
      [1, 1],
      [3, 4],
      [6, 20],
      [13, 9],
      [25, 31],
    ]) {
      const out = resizeBicubic(src, h, w);
      expect([out.height, out.width]).toEqual([h, w]);
      for (let p = 0; p < out.data.length; p += 3) {
        expect([out.data[p], out.data[p + 1], out.data[p + 2]]).toEqual([17, 200, 255]);
      }
    }
  });

  it('2 → 1 averages the two pixels, rounding half up', () => {
    // scale 2 stretches the kernel to support 4: both taps at distance 0.25 → weights ½, ½
    // = 2^21 each, result floor((a + b + 1) / 2).
    expect(redChannel(resizeBicubic(gray(1, 2, [10, 20]), 1, 1))).toEqual([15]);
    expect(redChannel(resizeBicubic(gray(1, 2, [10, 21]), 1, 1))).toEqual([16]);
    expect(redChannel(resizeBicubic(gray(2, 1, [0, 255]), 1, 1))).toEqual([128]);
  });

  it('2×2 → 1×1 rounds to uint8 between the horizontal and vertical passes', () => {
    // Rows [0, 1] → 1 and [0, 0] → 0, then (1 + 0 + 1) >> 1 = 1. A single float pass would
    // give round(0.25) = 0: this pins PIL's two-pass order and intermediate rounding.
    expect(redChannel(resizeBicubic(gray(2, 2, [0, 1, 0, 0]), 1, 1))).toEqual([1]);
    // Horizontal first, not vertical: [[0, 0], [1, 3]] → rows 0, 2 → 1; columns first would
    // give 1, 2 → 2.
    expect(redChannel(resizeBicubic(gray(2, 2, [0, 0, 1, 3]), 1, 1))).toEqual([1]);
  });

  it('1×2 → 1×4 upscale matches the cubic weights worked by hand', () => {
    // Output x at centre (x + ½)/2 − ½ in input pixels: −0.25, 0.25, 0.75, 1.25. Taps outside
    // the image are dropped and the rest renormalised:
    //   x=0: k(0.25) = 0.8671875, k(1.25) = −0.0703125 → 1.0882, −0.0882 → 100·1.0882 − 200·0.0882 = 91.18 → 91
    //   x=1: k(0.25), k(0.75) = 0.2265625 → 0.7929, 0.2071 → 120.71 → 121
    //   x=2, x=3 mirror them: 179.29 → 179, 208.82 → 209.
    expect(redChannel(resizeBicubic(gray(1, 2, [100, 200]), 1, 4))).toEqual([91, 121, 179, 209]);
    // Overshoot is clipped: 0 → 255 gives −22.5 → 0 and 277.5 → 255 at the ends, and
    // 255·0.2071 = 52.8 → 53, 255·0.7929 = 202.2 → 202 inside.
    expect(redChannel(resizeBicubic(gray(1, 2, [0, 255]), 1, 4))).toEqual([0, 53, 202, 255]);
  });

  it('length-1 sides: 1×1 → n×m replicates, n×m → 1×1 is a weighted mean', () => {
    const one = image(1, 1, [9, 99, 199]);
    const big = resizeBicubic(one, 3, 5);
    for (let p = 0; p < big.data.length; p += 3) {
      expect([big.data[p], big.data[p + 1], big.data[p + 2]]).toEqual([9, 99, 199]);
    }
    const mean = resizeBicubic(gray(1, 3, [30, 30, 30]), 1, 1);
    expect(redChannel(mean)).toEqual([30]);
  });
});

describe('resizeBicubic against Pillow 9.4 (golden outputs)', () => {
  const src = image(5, 7, golden.SOURCE_5x7);

  it('downscale 5×7 → 3×4', () => {
    expect(Array.from(resizeBicubic(src, 3, 4).data)).toEqual(golden.RESIZE_TO_3x4);
  });

  it('upscale 5×7 → 9×11', () => {
    expect(Array.from(resizeBicubic(src, 9, 11).data)).toEqual(golden.RESIZE_TO_9x11);
  });

  it('vertical pass only: 5×7 → 2×7', () => {
    expect(Array.from(resizeBicubic(src, 2, 7).data)).toEqual(golden.RESIZE_TO_2x7);
  });

  it('crop then resize (torchvision resized_crop): rows 1–3, columns 2–5 → 6×5', () => {
    const crop = { top: 1, left: 2, height: 3, width: 4 };
    expect(Array.from(resizeBicubic(src, 6, 5, crop).data)).toEqual(golden.CROP_1_2_3x4_TO_6x5);
    // The crop is a separate image: the same as cropping first.
    expect(resizeBicubic(src, 6, 5, crop).data).toEqual(
      resizeBicubic(cropImage(src, crop), 6, 5).data,
    );
  });

  it('a one-column shift of the crop changes the result (the check can fail)', () => {
    const shifted = { top: 1, left: 3, height: 3, width: 4 };
    expect(Array.from(resizeBicubic(src, 6, 5, shifted).data)).not.toEqual(
      golden.CROP_1_2_3x4_TO_6x5,
    );
  });
});

describe('crop helpers (torchvision semantics)', () => {
  it('roundHalfEven is Python round()', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, 3].map(roundHalfEven)).toEqual([
      0, 2, 2, -0, -2, 2, 3, 3,
    ]);
  });

  it('centreCropBox: offsets int(round((H − h) / 2))', () => {
    expect(centreCropBox(10, 10, 4, 4)).toEqual({ top: 3, left: 3, height: 4, width: 4 });
    // (5 − 2) / 2 = 1.5 → 2; (6 − 1) / 2 = 2.5 → 2 (half to even).
    expect(centreCropBox(5, 6, 2, 1)).toEqual({ top: 2, left: 2, height: 2, width: 1 });
    expect(() => centreCropBox(3, 3, 4, 1)).toThrow(RangeError);
  });

  it('cropImage copies the right rows and columns', () => {
    const src = gray(3, 4, [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
    const out = cropImage(src, { top: 1, left: 1, height: 2, width: 3 });
    expect(redChannel(out)).toEqual([11, 12, 13, 21, 22, 23]);
    expect(() => cropImage(src, { top: 2, left: 0, height: 2, width: 1 })).toThrow(/leave/);
  });

  it('resizeShorterSide truncates the longer side as torchvision does', () => {
    const src = randomImage(10, 7, 3);
    const out = resizeShorterSide(src, 5);
    expect([out.height, out.width]).toEqual([7, 5]); // int(5 · 10 / 7) = 7
    expect(resizeShorterSide(src, 7)).toBe(src); // already there: untouched
    const wide = resizeShorterSide(randomImage(3, 8, 4), 4);
    expect([wide.height, wide.width]).toEqual([4, 10]); // int(4 · 8 / 3) = 10
  });

  it('resizeAndCentreCrop gives a square of the size asked', () => {
    const src = randomImage(9, 14, 5);
    const out = resizeAndCentreCrop(src, 6);
    expect([out.height, out.width]).toEqual([6, 6]);
    // Equal to the explicit Resize(6) → 6×9, then the centre 6×6 (left = round(1.5) = 2).
    const resized = resizeBicubic(src, 6, 9);
    expect(out.data).toEqual(cropImage(resized, { top: 0, left: 2, height: 6, width: 6 }).data);
    const eval224 = resizeAndCentreCrop(randomImage(20, 20, 6), 7, 8);
    expect([eval224.height, eval224.width]).toEqual([7, 7]);
  });

  it('rejects bad sizes with clear messages', () => {
    const src = randomImage(2, 2, 7);
    expect(() => resizeBicubic(src, 0, 3)).toThrow(/positive integers/);
    expect(() => resizeBicubic({ ...src, data: src.data.subarray(1) }, 2, 2)).toThrow(/bytes/);
    expect(() => resizeAndCentreCrop(src, 4, 3)).toThrow(/resizeTo/);
  });
});
