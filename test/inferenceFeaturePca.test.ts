import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/reference/random';
import { featurePca, featurePcaImage } from '../src/inference/featurePca';

// Features are built with a known principal structure: three token patterns s_c that are
// exactly orthogonal and zero-mean over the grid, each times an orthonormal direction u_c in
// R^D, plus a constant offset (which centring must remove) and small noise. Without noise the
// eigenvalues of G are ‖s_c‖² and the component scores are ±s_c, so the tolerances below are
// set by the noise (amplitude 1e-3 against pattern amplitudes ≥ 1).

function orthonormalDirections(d: number, count: number, seed: number): Float64Array[] {
  const next = mulberry32(seed);
  const dirs: Float64Array[] = [];
  for (let c = 0; c < count; c++) {
    const v = Float64Array.from({ length: d }, () => next() - 0.5);
    for (const u of dirs) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += v[i] * u[i];
      for (let i = 0; i < d; i++) v[i] -= dot * u[i];
    }
    const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    dirs.push(v.map((x) => x / n));
  }
  return dirs;
}

/** Zero-mean, mutually orthogonal patterns on a gh × gw grid (gh, gw multiples of 4). */
function patterns(gh: number, gw: number): Float64Array[] {
  const k = gh * gw;
  const make = (f: (y: number, x: number) => number) =>
    Float64Array.from({ length: k }, (_, t) => f(Math.floor(t / gw), t % gw));
  return [
    make((_, x) => 4 * Math.cos((2 * Math.PI * x) / gw)),
    make((y) => 2 * Math.cos((2 * Math.PI * y) / gh)),
    make((y, x) => Math.sin((2 * Math.PI * x) / gw) * Math.sin((2 * Math.PI * y) / gh)),
  ];
}

function planted(gh: number, gw: number, d: number, noise: number, seed = 1) {
  const k = gh * gw;
  const s = patterns(gh, gw);
  const u = orthonormalDirections(d, 3, seed);
  const next = mulberry32(seed + 100);
  const x = new Float32Array(k * d);
  for (let t = 0; t < k; t++) {
    for (let j = 0; j < d; j++) {
      let v = 5 + 0.25 * j + noise * (next() - 0.5);
      for (let c = 0; c < 3; c++) v += s[c][t] * u[c][j];
      x[t * d + j] = v;
    }
  }
  return { x, s, k };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let r = 0;
  for (let i = 0; i < a.length; i++) r += a[i] * b[i];
  return r;
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
}

describe('featurePca', () => {
  for (const [name, gh, gw, d] of [
    ['D > K', 4, 8, 300],
    ['D < K', 8, 8, 5],
    ['AIM-sized grid, wide features', 16, 16, 1024],
  ] as const) {
    it(`recovers planted components (${name})`, () => {
      const { x, s, k } = planted(gh, gw, d, 1e-3);
      const pca = featurePca(x, k, d);
      expect(pca.converged).toBe(true);
      const norms = s.map((v) => dot(v, v));
      const total = norms.reduce((a, b) => a + b, 0);
      for (let c = 0; c < 3; c++) {
        // Component scores equal the planted pattern up to sign …
        expect(Math.abs(correlation(pca.scores[c], s[c]))).toBeGreaterThan(1 - 1e-5);
        const err = Math.max(
          ...pca.scores[c].map((v, i) => Math.abs(Math.abs(v) - Math.abs(s[c][i]))),
        );
        expect(err).toBeLessThan(1e-2);
        // … the eigenvalue is its squared norm, and the fractions are shares of the total.
        expect(pca.eigenvalues[c] / norms[c]).toBeCloseTo(1, 3);
        expect(pca.explainedVariance[c]).toBeCloseTo(norms[c] / total, 3);
      }
      expect(pca.explainedVariance[0]).toBeGreaterThan(pca.explainedVariance[1]);
      expect(pca.explainedVariance[1]).toBeGreaterThan(pca.explainedVariance[2]);
    });
  }

  it('returns eigenpairs of the centred Gram matrix on an odd-sized grid', () => {
    // 3 × 5 tokens (odd K exercises the unpaired last row), D = 7, random features.
    const k = 15;
    const d = 7;
    const next = mulberry32(11);
    const x = Float32Array.from({ length: k * d }, () => next() * 4 - 2);
    const mean = Array.from({ length: d }, (_, j) => {
      let m = 0;
      for (let t = 0; t < k; t++) m += x[t * d + j];
      return m / k;
    });
    const xc = Array.from({ length: k }, (_, t) =>
      Array.from({ length: d }, (_, j) => x[t * d + j] - mean[j]),
    );
    const g = xc.map((a) => xc.map((b) => dot(a, b)));
    const pca = featurePca(x, k, d);
    expect(pca.converged).toBe(true);
    const trace = g.reduce((acc, row, i) => acc + row[i], 0);
    // Reference eigenvalues by deflated power iteration, run far past convergence.
    let deflated = g.map((row) => [...row]);
    for (let c = 0; c < 3; c++) {
      let v = Array.from({ length: k }, (_, i) => 1 + i / k);
      let lambda = 0;
      for (let it = 0; it < 20000; it++) {
        const w = deflated.map((row) => dot(row, v));
        lambda = Math.sqrt(dot(w, w));
        v = w.map((e) => e / lambda);
      }
      expect(pca.eigenvalues[c] / lambda).toBeCloseTo(1, 9);
      expect(pca.explainedVariance[c]).toBeCloseTo(lambda / trace, 9);
      // Scores are sqrt(λ)·v: G·s = λ·s and ‖s‖² = λ.
      const sc = Array.from(pca.scores[c]);
      const gs = g.map((row) => dot(row, sc));
      for (let i = 0; i < k; i++) expect(gs[i]).toBeCloseTo(lambda * sc[i], 6);
      expect(dot(sc, sc) / lambda).toBeCloseTo(1, 9);
      deflated = deflated.map((row, i) => row.map((e, j) => e - lambda * v[i] * v[j]));
    }
    expect(Math.abs(dot(pca.scores[0], pca.scores[1]))).toBeLessThan(1e-8);
  });

  it('fixes each sign so the largest-|score| entry is positive', () => {
    const { x, k } = planted(4, 8, 40, 1e-3, 3);
    for (const sc of featurePca(x, k, 40).scores) {
      let best = 0;
      for (let i = 1; i < sc.length; i++)
        if (Math.abs(sc[i]) > Math.abs(sc[best]) * (1 + 1e-9)) best = i;
      expect(sc[best]).toBeGreaterThan(0);
    }
    // Negating the features flips every eigenvector; the fixed sign undoes it.
    const a = featurePca(x, k, 40);
    const b = featurePca(
      x.map((v) => -v),
      k,
      40,
    );
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < k; i++) expect(b.scores[c][i]).toBeCloseTo(a.scores[c][i], 6);
    }
  });

  it('handles rank below three', () => {
    // Two tokens: one direction of variance, the other components are empty.
    const pca = featurePca(Float32Array.from([1, 2, 3, 3, 2, 1]), 2, 3);
    expect(pca.explainedVariance[0]).toBeCloseTo(1, 12);
    expect(pca.explainedVariance[1]).toBe(0);
    expect(pca.scores.length).toBe(2);
    expect(Array.from(pca.scores[1])).toEqual([0, 0]);
    // λ1 = ‖x1 − x2‖² / 2 = 8 / 2; scores ±sqrt(8)/2.
    expect(pca.eigenvalues[0]).toBeCloseTo(4, 10);
    expect(Math.abs(pca.scores[0][0])).toBeCloseTo(Math.sqrt(2), 10);
  });

  it('rejects bad shapes and non-finite features', () => {
    expect(() => featurePca(new Float32Array(5), 2, 3)).toThrow(RangeError);
    expect(() => featurePca(Float32Array.from([1, NaN]), 2, 1)).toThrow(RangeError);
  });
});

describe('featurePcaImage', () => {
  it('draws PC1 in red, PC2 in green, PC3 in blue, upscaled by nearest neighbour', () => {
    const { x, s } = planted(4, 8, 64, 1e-3);
    const img = featurePcaImage(x, 4, 8, 3);
    expect([img.width, img.height, img.data.length]).toEqual([24, 12, 24 * 12 * 3]);
    for (let c = 0; c < 3; c++) {
      const channel = Array.from({ length: 32 }, (_, t) => {
        const px = ((Math.floor(t / 8) * 3 + 1) * 24 + (t % 8) * 3 + 1) * 3;
        return img.data[px + c];
      });
      // Robust scaling and rounding only bend the relation a little.
      expect(
        Math.abs(
          correlation(
            channel.map((v) => v - 127.5),
            s[c],
          ),
        ),
      ).toBeGreaterThan(0.98);
    }
    // Every 3 × 3 block is one patch colour.
    for (let y = 0; y < 12; y++) {
      for (let xx = 0; xx < 24; xx++) {
        const a = (y * 24 + xx) * 3;
        const b = ((y - (y % 3)) * 24 + (xx - (xx % 3))) * 3;
        expect(Array.from(img.data.subarray(a, a + 3))).toEqual(
          Array.from(img.data.subarray(b, b + 3)),
        );
      }
    }
    const sum = img.explainedVariance.reduce((a, b) => a + b, 0);
    expect(sum).toBeGreaterThan(0.99);
    expect(sum).toBeLessThanOrEqual(1 + 1e-12);
  });

  it('is deterministic', () => {
    const { x } = planted(8, 8, 33, 0.5, 9);
    const a = featurePcaImage(x, 8, 8, 2);
    const b = featurePcaImage(Float32Array.from(x), 8, 8, 2);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(b.explainedVariance).toEqual(a.explainedVariance);
  });

  it('uses the full 0…255 range for each component of a well-spread map', () => {
    const { x } = planted(8, 8, 20, 1e-3);
    const img = featurePcaImage(x, 8, 8);
    for (let c = 0; c < 3; c++) {
      const values = Array.from({ length: 64 }, (_, t) => img.data[t * 3 + c]);
      expect(Math.min(...values)).toBe(0);
      expect(Math.max(...values)).toBe(255);
    }
  });

  it('degenerate inputs give grey instead of failing', () => {
    const one = featurePcaImage(Float32Array.from([0.3, -2, 7]), 1, 1, 4);
    expect([one.width, one.height]).toEqual([4, 4]);
    expect(new Set(one.data)).toEqual(new Set([128]));
    expect(one.explainedVariance).toEqual([0, 0, 0]);

    const constant = featurePcaImage(new Float32Array(6 * 10).fill(1.5), 2, 3);
    expect(new Set(constant.data)).toEqual(new Set([128]));

    // Two tokens: red separates them, green and blue have nothing to show.
    const two = featurePcaImage(Float32Array.from([1, 2, 3, 3, 2, 1]), 1, 2);
    expect(new Set([two.data[0], two.data[3]])).toEqual(new Set([0, 255]));
    expect([two.data[1], two.data[2], two.data[4], two.data[5]]).toEqual([128, 128, 128, 128]);
    expect(two.explainedVariance[0]).toBeCloseTo(1, 12);
    expect(two.explainedVariance.slice(1)).toEqual([0, 0]);
  });

  it('rejects shapes that do not fit', () => {
    expect(() => featurePcaImage(new Float32Array(10), 2, 2)).toThrow(RangeError);
    expect(() => featurePcaImage(new Float32Array(8), 2, 2, 0)).toThrow(RangeError);
    expect(() => featurePcaImage(new Float32Array(8), 0, 2)).toThrow(RangeError);
  });
});
