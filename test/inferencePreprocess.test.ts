import { describe, expect, it } from 'vitest';
import { IMAGENET_MEAN, IMAGENET_STD } from '../src/data/batch';
import type { RgbImage } from '../src/data/dataset';
import { resizeBicubic } from '../src/data/resize';
import {
  centreCropBoxPadded,
  cropWithZeroPadding,
  evalResizeFor,
  evalTransformSizes,
  preprocessForAim,
  resizedSize,
} from '../src/inference/preprocess';

// Sizes are integer arithmetic that must match torchvision's Python exactly, so comparisons
// are exact; expected values are worked out by hand from torchvision's formulas in the
// comments (int() truncates, round() sends halves to the even neighbour).

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, 3 * i);
  return { data, width, height };
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const p = (y * img.width + x) * 3;
  return [img.data[p], img.data[p + 1], img.data[p + 2]];
}

function setPixel(img: RgbImage, x: number, y: number, rgb: number[]): void {
  img.data.set(rgb, (y * img.width + x) * 3);
}

describe('evalTransformSizes', () => {
  it('derives the resize from the crop as ceil(crop / 0.875)', () => {
    expect(evalResizeFor(224)).toBe(256);
    expect(evalResizeFor(32)).toBe(37); // 36.57…
    expect(evalResizeFor(448)).toBe(512);
    expect(evalResizeFor(7)).toBe(8);
  });

  it('landscape: shorter side to 256, longer truncated, odd margin rounds to even', () => {
    // 256·640/480 = 341.33 → 341; (341 − 224)/2 = 58.5 → 58.
    const s = evalTransformSizes(640, 480, 224);
    expect([s.resizedWidth, s.resizedHeight, s.resampled]).toEqual([341, 256, true]);
    expect(s.crop).toEqual({ top: 16, left: 58, height: 224, width: 224 });
  });

  it('portrait mirrors landscape', () => {
    const s = evalTransformSizes(480, 640, 224);
    expect([s.resizedWidth, s.resizedHeight]).toEqual([256, 341]);
    expect(s.crop).toEqual({ top: 58, left: 16, height: 224, width: 224 });
    // 256·500/333 = 384.38 → 384; (384 − 224)/2 = 80.
    const t = evalTransformSizes(333, 500, 224);
    expect([t.resizedWidth, t.resizedHeight]).toEqual([256, 384]);
    expect(t.crop.top).toBe(80);
  });

  it('square images of any size', () => {
    for (const n of [1, 2, 100, 255, 256, 257, 4000]) {
      const s = evalTransformSizes(n, n, 224);
      expect([s.resizedWidth, s.resizedHeight, s.resampled]).toEqual([256, 256, n !== 256]);
      expect(s.crop).toEqual({ top: 16, left: 16, height: 224, width: 224 });
    }
  });

  it('1×N and N×1 images', () => {
    // 256·100/1 = 25600; (25600 − 224)/2 = 12688.
    const tall = evalTransformSizes(1, 100, 224);
    expect([tall.resizedWidth, tall.resizedHeight]).toEqual([256, 25600]);
    expect(tall.crop).toEqual({ top: 12688, left: 16, height: 224, width: 224 });
    const wide = evalTransformSizes(3, 1, 224);
    expect([wide.resizedWidth, wide.resizedHeight]).toEqual([768, 256]);
    expect(wide.crop).toEqual({ top: 16, left: 272, height: 224, width: 224 });
    const single = evalTransformSizes(1, 1, 32);
    expect([single.resizedWidth, single.resizedHeight]).toEqual([37, 37]);
    expect(single.crop).toEqual({ top: 2, left: 2, height: 32, width: 32 }); // 2.5 → 2
  });

  it('an image already at the resized size is not resampled', () => {
    expect(evalTransformSizes(256, 256, 224).resampled).toBe(false);
    // Shorter side already 256 and the longer one unchanged by the truncation.
    const s = evalTransformSizes(341, 256, 224);
    expect([s.resizedWidth, s.resizedHeight, s.resampled]).toEqual([341, 256, false]);
    expect(evalTransformSizes(256, 1000, 224).resampled).toBe(false);
    // One pixel short on the shorter side: 300×255 is resampled to 301×256 (256·300/255 = 301.2).
    const r = evalTransformSizes(300, 255, 224);
    expect([r.resizedWidth, r.resizedHeight, r.resampled]).toEqual([301, 256, true]);
  });

  it('halves round to the even neighbour, as Python round() does', () => {
    // (257 − 224)/2 = 16.5 → 16; (259 − 224)/2 = 17.5 → 18; (261 − 224)/2 = 18.5 → 18.
    expect(evalTransformSizes(257, 256, 224).crop.left).toBe(16);
    expect(evalTransformSizes(259, 256, 224).crop.left).toBe(18);
    expect(evalTransformSizes(261, 256, 224).crop.left).toBe(18);
    expect(evalTransformSizes(256, 259, 224).crop.top).toBe(18);
    // Small model: 37·50/40 = 46.25 → 46, left (46 − 32)/2 = 7, top (37 − 32)/2 = 2.5 → 2.
    const s = evalTransformSizes(50, 40, 32);
    expect([s.resizedWidth, s.resizedHeight]).toEqual([46, 37]);
    expect(s.crop).toEqual({ top: 2, left: 7, height: 32, width: 32 });
  });

  it('resizedSize truncates the double quotient like int() in Python', () => {
    expect(resizedSize(1000, 667, 256)).toEqual({ width: 383, height: 256 }); // 383.81
    expect(resizedSize(667, 1000, 256)).toEqual({ width: 256, height: 383 });
  });

  it('pads like torchvision when the image is smaller than the crop', () => {
    // Padding (crop − size) // 2 before: 1 for 5 → 8, 1 for 4 → 7 (the odd pixel goes after).
    expect(centreCropBoxPadded(5, 4, 8, 7)).toEqual({ top: -1, left: -1, height: 8, width: 7 });
    // Only one axis short: the other keeps the rounded anchor.
    expect(centreCropBoxPadded(3, 11, 6, 6)).toEqual({ top: -1, left: 2, height: 6, width: 6 });
    // An explicit resize smaller than the crop reaches the padding path too.
    expect(evalTransformSizes(10, 10, 8, 5).crop).toEqual({
      top: -1,
      left: -1,
      height: 8,
      width: 8,
    });
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => evalTransformSizes(0, 10, 224)).toThrow(RangeError);
    expect(() => evalTransformSizes(10, 10.5, 224)).toThrow(RangeError);
    expect(() => evalTransformSizes(10, 10, 0)).toThrow(RangeError);
  });
});

describe('cropWithZeroPadding', () => {
  it('fills outside the image with zeros', () => {
    const img = solid(2, 2, [9, 9, 9]);
    setPixel(img, 1, 1, [1, 2, 3]);
    const out = cropWithZeroPadding(img, centreCropBoxPadded(2, 2, 4, 5));
    expect([out.width, out.height]).toEqual([5, 4]);
    // Padding: top (4 − 2) // 2 = 1, left (5 − 2) // 2 = 1, so the image sits at (1…2, 1…2).
    expect(pixel(out, 0, 0)).toEqual([0, 0, 0]);
    expect(pixel(out, 1, 1)).toEqual([9, 9, 9]);
    expect(pixel(out, 2, 2)).toEqual([1, 2, 3]);
    expect(pixel(out, 3, 2)).toEqual([0, 0, 0]);
    expect(pixel(out, 4, 3)).toEqual([0, 0, 0]);
    let nonZero = 0;
    for (const v of out.data) if (v !== 0) nonZero++;
    expect(nonZero).toBe(12);
  });
});

describe('preprocessForAim', () => {
  it('a constant colour normalises to (c/255 − mean)/std per channel', () => {
    const rgb: [number, number, number] = [10, 128, 250];
    const { tensor, cropped } = preprocessForAim(solid(300, 200, rgb), 224);
    expect(tensor.length).toBe(3 * 224 * 224);
    expect([cropped.width, cropped.height]).toEqual([224, 224]);
    const f = Math.fround;
    for (let c = 0; c < 3; c++) {
      const exact = (rgb[c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
      // torch computes in float32: fl(fl(fl(v / 255) − mean) / std) with mean/std in f32.
      const torch = f(f(f(rgb[c] / 255) - f(IMAGENET_MEAN[c])) / f(IMAGENET_STD[c]));
      const plane = tensor.subarray(c * 224 * 224, (c + 1) * 224 * 224);
      // Every pixel equal: one comparison per channel, then the count of any that differ.
      expect(plane[0]).toBe(torch);
      expect(plane.filter((v) => v !== torch).length).toBe(0);
      // Float32 rounding of four ops: a few ulps (2^-23 relative each) of the f64 value.
      expect(Math.abs(torch - exact)).toBeLessThanOrEqual(
        4 * 2 ** -23 * Math.max(1, Math.abs(exact)),
      );
    }
  });

  it('crops the centre of a non-square image (no resampling)', () => {
    // 300×256 needs no resize; the crop is rows 16…239, columns 38…261.
    const img = solid(300, 256, [50, 50, 50]);
    setPixel(img, 38, 16, [255, 0, 0]);
    setPixel(img, 38 + 223, 16 + 223, [0, 255, 0]);
    setPixel(img, 37, 16, [0, 0, 255]); // one column left of the crop: must not appear
    const { cropped, tensor } = preprocessForAim(img, 224);
    expect(pixel(cropped, 0, 0)).toEqual([255, 0, 0]);
    expect(pixel(cropped, 223, 223)).toEqual([0, 255, 0]);
    let blue = 0;
    for (let i = 0; i < 224 * 224; i++) if (cropped.data[3 * i + 2] === 255) blue++;
    expect(blue).toBe(0);
    // The tensor is NCHW: red channel at (0, 0) is the normalised 255.
    expect(tensor[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(tensor[224 * 224]).toBeCloseTo((0 - 0.456) / 0.224, 5);
  });

  it('keeps a half-and-half picture split at the centre after resize and crop', () => {
    // 600×512 → 300×256 (exact halving), crop columns 38…261: the split at x = 150 lands
    // between crop columns 111 and 112, the middle of 224.
    const img = solid(600, 512, [255, 0, 0]);
    for (let y = 0; y < 512; y++) for (let x = 300; x < 600; x++) setPixel(img, x, y, [0, 0, 255]);
    const { cropped } = preprocessForAim(img, 224);
    const row = 100;
    for (let x = 0; x < 112; x++) {
      const [r, , b] = pixel(cropped, x, row);
      const [r2, , b2] = pixel(cropped, 223 - x, row);
      // Mirror symmetry: the red side mirrors the blue side exactly.
      expect([r, b]).toEqual([b2, r2]);
      expect(r).toBeGreaterThan(b);
    }
  });

  it('matches resize + crop done by hand with src/data/resize.ts', () => {
    const w = 97;
    const h = 61;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 5)) & 255;
    const img: RgbImage = { data, width: w, height: h };
    const s = evalTransformSizes(w, h, 32);
    const resized = resizeBicubic(img, s.resizedHeight, s.resizedWidth);
    const { cropped } = preprocessForAim(img, 32);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        expect(pixel(cropped, x, y)).toEqual(pixel(resized, x + s.crop.left, y + s.crop.top));
      }
    }
  });

  it('pads with zeros when an explicit resize is smaller than the crop', () => {
    const { cropped, tensor } = preprocessForAim(solid(5, 5, [200, 200, 200]), 8, 5);
    expect(pixel(cropped, 0, 0)).toEqual([0, 0, 0]);
    expect(pixel(cropped, 1, 1)).toEqual([200, 200, 200]);
    expect(pixel(cropped, 7, 7)).toEqual([0, 0, 0]);
    expect(tensor[0]).toBeCloseTo(-0.485 / 0.229, 5);
  });

  it('rejects a buffer of the wrong length', () => {
    expect(() => preprocessForAim({ data: new Uint8Array(5), width: 2, height: 2 }, 224)).toThrow(
      RangeError,
    );
  });
});
