import { describe, expect, it } from 'vitest';
import { knnAccuracy, knnScores, makeBank, pooledUnitVectors } from '../src/inference/knnProbe';
import { evalBatch } from '../src/data/batch';
import { imageAt, type RgbImages } from '../src/data/dataset';
import { fitKnnProbe, modelInput, type LoadedSession } from '../src/inference/classify';
import { preprocessForAim } from '../src/inference/preprocess';
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

describe('k-NN probe preprocessing (issue 14: bank, held-out and query alike)', () => {
  /** A session whose model records what it is given and returns one token per image. */
  function recordingSession(crop: number) {
    const inputs: Float32Array[] = [];
    const model = {
      run: async (images: Float32Array, dims: readonly number[]) => {
        expect(dims.slice(1)).toEqual([3, crop, crop]);
        const per = 3 * crop * crop;
        for (let k = 0; k < dims[0]; k++) inputs.push(images.slice(k * per, (k + 1) * per));
        // One token per image whose features are the image's first 4 input values.
        const data = new Float32Array(dims[0] * 4);
        for (let k = 0; k < dims[0]; k++) data.set(images.subarray(k * per, k * per + 4), k * 4);
        return { outputs: { features: { data, dims: [dims[0], 1, 4] } }, latencyMs: 0 };
      },
    };
    const session = {
      model,
      files: { plan: { input: { height: crop, width: crop } } },
      runs: 0,
    } as unknown as LoadedSession;
    return { session, inputs };
  }

  /** n labelled h×w images with distinct, non-uniform pixels. */
  function images(n: number, h: number, w: number, seed: number): RgbImages {
    const random = mulberry32(seed);
    const pixels = Uint8Array.from({ length: n * h * w * 3 }, () => Math.floor(random() * 256));
    return {
      pixels,
      labels: Uint16Array.from({ length: n }, (_, i) => i % 2),
      count: n,
      height: h,
      width: w,
    };
  }

  it('bank and held-out images get the query’s transform (ml-aim eval: resize, centre crop)', async () => {
    // 28×28 images (Fashion-MNIST's size) for a 32-px model: the eval transform resizes them
    // to 37 and crops the centre 32 — not the plain resize to 32 the trainer evaluates with.
    const crop = 32;
    const train = images(40, 28, 28, 1);
    const val = images(7, 28, 28, 2);
    const { session, inputs } = recordingSession(crop);
    const progress: [number, number][] = [];
    const summary = await fitKnnProbe(
      session,
      { name: 'test', classes: ['a', 'b'], train, val },
      (e, t) => progress.push([e, t]),
    );
    expect([summary.trainCount, summary.valCount]).toEqual([40, 7]);
    // Progress from 0 to every image, rising, out of the bank and held-out images together.
    expect(progress[0]).toEqual([0, 47]);
    expect(progress.at(-1)).toEqual([47, 47]);
    for (let i = 1; i < progress.length; i++)
      expect(progress[i][0]).toBeGreaterThan(progress[i - 1][0]);
    expect(inputs).toHaveLength(47);
    const all = [
      ...Array.from({ length: 40 }, (_, i) => imageAt(train, i)),
      ...Array.from({ length: 7 }, (_, i) => imageAt(val, i)),
    ];
    for (const [i, image] of all.entries()) {
      const query = modelInput(session, image).tensor;
      expect(inputs[i], `image ${i}`).toEqual(query);
      expect(inputs[i], `image ${i}`).toEqual(preprocessForAim(image, crop).tensor);
    }
    // The trainer's evaluation view differs for these images: the test can tell them apart.
    expect(inputs[0]).not.toEqual(evalBatch(train, [0], crop).images);
  });
});
