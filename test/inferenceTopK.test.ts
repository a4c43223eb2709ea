import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/reference/random';
import { rankScores, softmax, topK } from '../src/inference/topK';

/** The obvious reference: sort every index by (logit desc, index asc). */
function bruteTopK(logits: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: logits.length }, (_, i) => i)
    .sort((a, b) => logits[b] - logits[a] || a - b)
    .slice(0, k);
}

describe('softmax', () => {
  it('matches the textbook formula and sums to 1', () => {
    const logits = Float32Array.from([0.5, -1.25, 2, 0, 3.75]);
    const p = softmax(logits);
    const e = Array.from(logits, Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < logits.length; i++) expect(p[i]).toBeCloseTo(e[i] / z, 15);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 15);
  });

  it('does not overflow on large logits (shift invariance)', () => {
    const p = softmax([1000, 1001, 999]);
    const q = softmax([1, 2, 0]);
    for (let i = 0; i < 3; i++) {
      expect(Number.isFinite(p[i])).toBe(true);
      expect(p[i]).toBeCloseTo(q[i], 14);
    }
    expect(softmax([-1e30, 0])[1]).toBe(1);
  });

  it('gives −∞ logits probability 0 and a single logit probability 1', () => {
    expect(Array.from(softmax([-Infinity, 0, -Infinity]))).toEqual([0, 1, 0]);
    expect(Array.from(softmax(Float32Array.of(-7)))).toEqual([1]);
  });

  it('rejects NaN, +∞, all −∞ and empty inputs', () => {
    expect(() => softmax([0, NaN])).toThrow(RangeError);
    expect(() => softmax([0, Infinity])).toThrow(RangeError);
    expect(() => softmax([-Infinity, -Infinity])).toThrow(RangeError);
    expect(() => softmax([])).toThrow(RangeError);
  });
});

describe('topK', () => {
  it('ranks classes best first with their probabilities', () => {
    const logits = Float32Array.from([0.1, 3, -2, 2.5, 3.5]);
    const top = topK(logits, 3);
    expect(top.map((t) => t.index)).toEqual([4, 1, 3]);
    const p = softmax(logits);
    expect(top.map((t) => t.probability)).toEqual([p[4], p[1], p[3]]);
    expect(top[0].logit).toBe(logits[4]);
  });

  it('breaks ties by the lower index', () => {
    expect(topK([1, 5, 5, 2, 5], 3).map((t) => t.index)).toEqual([1, 2, 4]);
    expect(topK([5, 5, 5, 5], 2).map((t) => t.index)).toEqual([0, 1]);
    // A later tie must not displace an earlier entry at the cut-off.
    expect(topK([3, 1, 2, 2], 3).map((t) => t.index)).toEqual([0, 2, 3]);
    expect(topK([3, 2, 1, 2], 2).map((t) => t.index)).toEqual([0, 1]);
  });

  it('agrees with a full sort on random logits with many ties', () => {
    const next = mulberry32(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(next() * 60);
      // Few distinct values, so ties are common.
      const logits = Float32Array.from({ length: n }, () => Math.floor(next() * 8) - 4);
      const k = Math.floor(next() * (n + 3));
      expect(topK(logits, k).map((t) => t.index)).toEqual(bruteTopK(logits, k));
    }
  });

  it('caps k at the number of classes and accepts k = 0', () => {
    expect(topK([1, 2], 5).map((t) => t.index)).toEqual([1, 0]);
    expect(topK([1, 2], 0)).toEqual([]);
  });

  it('orders classes whose probabilities underflow to 0 by logit', () => {
    const top = topK([0, -2000, -1000], 3);
    expect(top.map((t) => t.index)).toEqual([0, 2, 1]);
    expect(top[1].probability).toBe(0);
  });

  it('rejects a negative or fractional k', () => {
    expect(() => topK([1, 2], -1)).toThrow(RangeError);
    expect(() => topK([1, 2], 1.5)).toThrow(RangeError);
  });
});

describe('rankScores', () => {
  it('ranks probabilities as given, lower index first on ties', () => {
    const ranked = rankScores([0.1, 0.4, 0.1, 0.4], 3);
    expect(ranked.map((r) => r.index)).toEqual([1, 3, 0]);
    expect(ranked.map((r) => r.probability)).toEqual([0.4, 0.4, 0.1]);
  });
});
