import { describe, expect, it } from 'vitest';
import { knnAccuracy, knnScores, makeBank, pooledUnitVectors } from '../src/inference/knnProbe';
import { mulberry32 } from '../src/reference/random';

describe('k-NN probe', () => {
  it('pools patch features to unit vectors (mean over tokens, then L2)', () => {
    // 2 images × 3 tokens × 2 dims.
    const f = [1, 0, 3, 0, 2, 0, /* image 2 */ 0, 1, 0, -3, 0, 0];
    const v = pooledUnitVectors(f, 2, 3, 2);
    expect(Array.from(v)).toEqual([1, 0, 0, -1]);
    // A zero vector stays zero instead of becoming NaN.
    expect(Array.from(pooledUnitVectors([0, 0, 0, 0], 1, 2, 2))).toEqual([0, 0]);
    expect(() => pooledUnitVectors([1, 2, 3], 1, 2, 2)).toThrow(/not 1×2×2/);
  });

  it('weighted votes: exp(sim/τ) over the k nearest, normalised', () => {
    const s = Math.SQRT1_2;
    // Bank: class 0 at (1,0) and (s,s); class 1 at (0,1).
    const bank = makeBank(new Float64Array([1, 0, s, s, 0, 1]), [0, 0, 1], 2, 2);
    const q = new Float64Array([1, 0]);
    const sims = [1, s, 0];
    const w = sims.map((x) => Math.exp((x - 1) / 0.07));
    const total = w[0] + w[1] + w[2];
    const got = knnScores(bank, q, 3);
    expect(got[0]).toBeCloseTo((w[0] + w[1]) / total, 12);
    expect(got[1]).toBeCloseTo(w[2] / total, 12);
    // k = 1 takes only the nearest.
    expect(Array.from(knnScores(bank, new Float64Array([0, 1]), 1))).toEqual([0, 1]);
    expect(() => makeBank(new Float64Array([1, 0]), [2], 2, 2)).toThrow(/outside 0…1/);
    expect(() => knnScores(bank, new Float64Array(3))).toThrow(/query has 3/);
  });

  it('separable clusters are classified perfectly; shuffled labels are near chance', () => {
    const random = mulberry32(7);
    const classes = 4;
    const dim = 16;
    const centres = Array.from({ length: classes }, () =>
      Array.from({ length: dim }, () => random() * 2 - 1),
    );
    const sample = (n: number, shuffle: boolean) => {
      const feats: number[] = [];
      const labels: number[] = [];
      for (let i = 0; i < n; i++) {
        const c = i % classes;
        for (let t = 0; t < 3; t++)
          for (let j = 0; j < dim; j++) feats.push(centres[c][j] + 0.2 * (random() - 0.5));
        labels.push(shuffle ? Math.floor(random() * classes) : c);
      }
      return { vectors: pooledUnitVectors(feats, n, 3, dim), labels };
    };
    const train = sample(200, false);
    const bank = makeBank(train.vectors, train.labels, dim, classes);
    const test = sample(80, false);
    expect(knnAccuracy(bank, test.vectors, test.labels)).toBe(1);
    const noise = sample(200, true);
    const noisyBank = makeBank(noise.vectors, noise.labels, dim, classes);
    expect(knnAccuracy(noisyBank, test.vectors, test.labels)).toBeLessThan(0.6);
  });
});
