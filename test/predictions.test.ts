import { describe, expect, it } from 'vitest';
import { normaliseInto } from '../src/data/batch';
import { patchOrder } from '../src/model/orderings';
import { patchifyReference } from '../src/reference/patchify';
import { normalizedPatch } from '../src/reference/patchMseLoss';
import { predictionImages } from '../src/training/predictions';

describe('prediction images', () => {
  // A 8×8 RGB image with a distinct value per pixel and channel, normalised as the model sees it.
  const size = 8;
  const patch = 4;
  const rgb = Uint8Array.from({ length: size * size * 3 }, (_, i) => (i * 37) % 256);
  const images = new Float32Array(3 * size * size);
  normaliseInto(images, 0, { data: rgb, height: size, width: size });

  for (const ordering of ['raster', 'spiral', 'random'] as const) {
    it(`a perfect prediction reproduces the image (${ordering} order)`, () => {
      const order = patchOrder(ordering, 2, 2, 4);
      const K = order.length;
      const P = patch * patch * 3;
      const targets = patchifyReference(
        images,
        { batch: 1, channels: 3, height: size, width: size },
        patch,
        'target',
        order,
      );
      // The ideal model: position t − 1 outputs exactly the normalised patch t.
      const pred = new Float32Array(K * P);
      for (let t = 1; t < K; t++) pred.set(normalizedPatch(targets, t * P, P), (t - 1) * P);
      const [result] = predictionImages(images, pred, 1, size, patch, order, 1);
      expect(Array.from(result.original)).toEqual(Array.from(rgb));
      expect(Array.from(result.predicted)).toEqual(Array.from(rgb));
    });
  }

  it('puts each prediction in its patch of the ordering (off by one fails)', () => {
    const order = patchOrder('spiral', 2, 2);
    const P = patch * patch * 3;
    const pred = new Float32Array(4 * P);
    // Position 0 predicts a bright patch for sequence index 1; everything else predicts 0.
    pred.fill(5, 0, P);
    const [result] = predictionImages(images, pred, 1, size, patch, order, 1);
    const patchMean = (img: Uint8Array, raster: number) => {
      const pr = Math.floor(raster / 2);
      const pc = raster % 2;
      let sum = 0;
      for (let r = 0; r < patch; r++)
        for (let q = 0; q < patch; q++)
          for (let c = 0; c < 3; c++)
            sum += img[((pr * patch + r) * size + pc * patch + q) * 3 + c];
      return sum / P;
    };
    expect(patchMean(result.predicted, order[1])).toBeGreaterThan(
      patchMean(result.original, order[1]),
    );
    // Patch order[0] has no prediction: it is the original.
    expect(patchMean(result.predicted, order[0])).toBe(patchMean(result.original, order[0]));
  });
});
