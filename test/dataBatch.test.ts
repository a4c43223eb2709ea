import { describe, expect, it } from 'vitest';
import { AIM_V1_AUGMENTATION, augmentImage } from '../src/data/augment';
import {
  evalBatch,
  evalView,
  IMAGENET_MEAN,
  IMAGENET_STD,
  NORMALISATION_TABLE,
  normaliseInto,
  shuffledIndices,
  trainBatch,
} from '../src/data/batch';
import { imageAt, type RgbImages } from '../src/data/dataset';
import { resizeAndCentreCrop } from '../src/data/resize';
import { mulberry32 } from '../src/reference/random';

function randomSet(count: number, height: number, width: number, seed: number): RgbImages {
  const next = mulberry32(seed);
  const pixels = new Uint8Array(count * height * width * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(next() * 256);
  const labels = Uint16Array.from({ length: count }, (_, i) => (i * 7) % 5);
  return { pixels, labels, count, height, width };
}

describe('ImageNet normalisation', () => {
  it('is torch float32 ToTensor + Normalize, bit for bit', () => {
    // torch: x = v.float().div(255); x.sub_(mean).div_(std), every op rounded to f32.
    const f = Math.fround;
    for (let c = 0; c < 3; c++) {
      for (let v = 0; v < 256; v++) {
        const want = f(f(f(v / 255) - f(IMAGENET_MEAN[c])) / f(IMAGENET_STD[c]));
        expect(NORMALISATION_TABLE[c * 256 + v]).toBe(want);
        // And within f32 rounding of the real (v/255 − mean)/std: rounding v/255 (≤ 1), mean
        // (< 0.5) and their difference (≤ 1) errs by ≤ 2.5·2^-24 before dividing; std's and the
        // quotient's roundings add 2·2^-24·|q| with |q| ≤ 2.7.
        const exact = (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        const tol = (2.5 / IMAGENET_STD[c] + 2 * 2.7) * 2 ** -24;
        expect(Math.abs(NORMALISATION_TABLE[c * 256 + v] - exact)).toBeLessThanOrEqual(tol);
      }
    }
    // Known end points: (0 − 0.485)/0.229 = −2.1179, (1 − 0.406)/0.225 = 2.64.
    expect(NORMALISATION_TABLE[0]).toBeCloseTo(-2.117904, 5);
    expect(NORMALISATION_TABLE[2 * 256 + 255]).toBeCloseTo(2.64, 5);
  });

  it('writes CHW planes at the right slot', () => {
    // 1×2 image: pixel 0 = (0, 255, 10), pixel 1 = (1, 2, 3); slot 1 of a 2-image batch.
    const out = new Float32Array(2 * 3 * 2).fill(NaN);
    normaliseInto(out, 1, { data: Uint8Array.from([0, 255, 10, 1, 2, 3]), height: 1, width: 2 });
    const t = NORMALISATION_TABLE;
    expect(Array.from(out.subarray(0, 6)).every(Number.isNaN)).toBe(true);
    expect(Array.from(out.subarray(6))).toEqual([
      t[0],
      t[1],
      t[256 + 255],
      t[256 + 2],
      t[512 + 10],
      t[512 + 3],
    ]);
    expect(() => normaliseInto(out, 2, { data: new Uint8Array(6), height: 1, width: 2 })).toThrow(
      RangeError,
    );
  });
});

describe('evaluation batches', () => {
  it('at the stored size, a plain (cropFraction 1) eval batch is the normalised images', () => {
    const set = randomSet(3, 5, 5, 1);
    const batch = evalBatch(set, [2, 0], 5);
    expect([batch.count, batch.size]).toEqual([2, 5]);
    expect(Array.from(batch.labels)).toEqual([set.labels[2], set.labels[0]]);
    const want = new Float32Array(2 * 3 * 25);
    normaliseInto(want, 0, imageAt(set, 2));
    normaliseInto(want, 1, imageAt(set, 0));
    expect(batch.images).toEqual(want);
  });

  it('resizes to the model size and applies the centre-crop fraction as ml-aim', () => {
    const set = randomSet(1, 9, 13, 2);
    const img = imageAt(set, 0);
    expect(evalView(img, 7).data).toEqual(resizeAndCentreCrop(img, 7).data);
    // 0.875: Resize(ceil(7 / 0.875) = 8) → CenterCrop(7).
    expect(evalView(img, 7, 0.875).data).toEqual(resizeAndCentreCrop(img, 7, 8).data);
    // 224 / 0.875 = 256 exactly, as ml-aim's val transforms.
    expect(
      evalView({ data: new Uint8Array(300 * 300 * 3), height: 300, width: 300 }, 224, 0.875).height,
    ).toBe(224);
    expect(() => evalView(img, 7, 0)).toThrow(RangeError);
    const odd = evalBatch(set, [0], 3);
    expect(odd.images.length).toBe(27);
    const want = new Float32Array(27);
    normaliseInto(want, 0, resizeAndCentreCrop(img, 3));
    expect(odd.images).toEqual(want);
  });
});

describe('training batches', () => {
  it('each image is augmentImage of its index, in order, from one generator', () => {
    const set = randomSet(5, 12, 10, 3);
    const indices = [4, 1, 1, 3];
    const batch = trainBatch(set, indices, 6, AIM_V1_AUGMENTATION, mulberry32(8));
    const random = mulberry32(8);
    const want = new Float32Array(4 * 3 * 36);
    indices.forEach((i, k) =>
      normaliseInto(want, k, augmentImage(imageAt(set, i), 6, AIM_V1_AUGMENTATION, random)),
    );
    expect(batch.images).toEqual(want);
    expect(Array.from(batch.labels)).toEqual(indices.map((i) => set.labels[i]));
    // The same index twice gets two different random views.
    expect(batch.images.subarray(108, 216)).not.toEqual(batch.images.subarray(216, 324));
  });

  it('is reproducible by seed; other seeds differ', () => {
    const set = randomSet(3, 8, 8, 4);
    const a = trainBatch(set, [0, 1, 2], 8, AIM_V1_AUGMENTATION, mulberry32(1));
    const b = trainBatch(set, [0, 1, 2], 8, AIM_V1_AUGMENTATION, mulberry32(1));
    const c = trainBatch(set, [0, 1, 2], 8, AIM_V1_AUGMENTATION, mulberry32(2));
    expect(a.images).toEqual(b.images);
    expect(a.images).not.toEqual(c.images);
    // Odd batch of one, upscaling 8 → 17.
    expect(trainBatch(set, [2], 17, AIM_V1_AUGMENTATION, mulberry32(1)).images.length).toBe(
      3 * 17 * 17,
    );
  });

  it('rejects bad indices and sizes with clear messages', () => {
    const set = randomSet(2, 4, 4, 5);
    expect(() => trainBatch(set, [2], 4, AIM_V1_AUGMENTATION, mulberry32(1))).toThrow(
      /outside 0…1/,
    );
    expect(() => evalBatch(set, [0.5], 4)).toThrow(/position 0/);
    expect(() => evalBatch(set, [], 4)).toThrow(/at least one/);
    expect(() => evalBatch(set, [0], 0)).toThrow(/positive integer/);
  });
});

describe('shuffledIndices', () => {
  it('is a seeded permutation', () => {
    const a = shuffledIndices(50, mulberry32(1));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(shuffledIndices(50, mulberry32(1))).toEqual(a);
    expect(shuffledIndices(50, mulberry32(2))).not.toEqual(a);
    expect(Array.from(shuffledIndices(1, mulberry32(1)))).toEqual([0]);
  });
});
