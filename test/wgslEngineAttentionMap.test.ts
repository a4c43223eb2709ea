/**
 * The probe-attention picture's numbers (src/ui/inference/ProbeAttentionMap.ts): one head's
 * map or the heads' mean, a chosen patch's cosine similarity, and the overlay's pixels (the
 * crop blended with viridis, the chosen patch outlined) on a grid that does not divide the
 * crop evenly.
 */
import { describe, expect, it } from 'vitest';
import {
  attentionMap,
  mapRange,
  overlayPixels,
  patchSimilarity,
} from '../src/ui/inference/ProbeAttentionMap';
import { viridis } from '../src/ui/patchLossMap';

describe('probe attention map', () => {
  it('one head, or the mean over heads', () => {
    // 2 heads × 3 patches.
    const w = Float32Array.from([0.5, 0.25, 0.25, 0.1, 0.1, 0.8]);
    expect([...attentionMap(w, 2, 1)]).toEqual([
      ...Float64Array.from([0.1, 0.1, 0.8].map(Math.fround)),
    ]);
    const mean = attentionMap(w, 2, 'mean');
    [0.3, 0.175, 0.525].forEach((v, i) => expect(mean[i]).toBeCloseTo(v, 6));
    expect(mean.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
    expect(() => attentionMap(w, 2, 2)).toThrow(/head 2 outside 0…1/);
    expect(() => attentionMap(w, 4, 'mean')).toThrow(/not 4 maps/);
  });

  it('a patch’s cosine similarity with every patch (a zero feature gives 0)', () => {
    // 4 patches of dimension 2.
    const f = Float32Array.from([1, 0, 0, 2, -3, 0, 0, 0]);
    expect([...patchSimilarity(f, 2, 0)]).toEqual([1, 0, -1, 0]);
    expect([...patchSimilarity(f, 2, 1)]).toEqual([0, 1, 0, 0]);
    expect(() => patchSimilarity(f, 2, 4)).toThrow(/patch 4 outside 0…3/);
  });

  it('overlay: the crop blended with viridis by patch, the chosen patch outlined', () => {
    // A 5×3 crop, a 2-row × 3-column grid (cells of 5/3 × 1.5 pixels), at scale 2.
    const crop = { width: 5, height: 3, data: new Uint8Array(5 * 3 * 3).fill(100) };
    const values = [0, 1, 2, 3, 4, 5];
    const img = overlayPixels(crop, values, { rows: 2, cols: 3 }, { alpha: 0.5, scale: 2 });
    expect([img.width, img.height]).toEqual([10, 6]);
    const at = (x: number, y: number) => [
      ...img.data.subarray(4 * (y * 10 + x), 4 * (y * 10 + x) + 4),
    ];
    const blend = (t: number) => [...viridis(t).map((c) => Math.round(0.5 * 100 + 0.5 * c)), 255];
    expect(at(0, 0)).toEqual(blend(0)); // row 0, column 0: the minimum
    expect(at(9, 5)).toEqual(blend(1)); // row 1, column 2: the maximum
    expect(at(4, 4)).toEqual(blend(0.8)); // row 1, column 1: 4 of 0…5
    // Chosen patch 4 (row 1, column 1: x 3.33…6.67, y 3…6): its border pixels are white.
    const marked = overlayPixels(crop, values, { rows: 2, cols: 3 }, { scale: 2, marked: 4 });
    expect([...marked.data.subarray(4 * (3 * 10 + 4), 4 * (3 * 10 + 4) + 3)]).toEqual([
      255, 255, 255,
    ]);
    expect(mapRange(values)).toEqual({ min: 0, max: 5 });
  });
});
