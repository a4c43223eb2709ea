import { describe, expect, it } from 'vitest';
import { checkGradient, weightedSum } from '../src/reference/gradcheck';
import {
  attentionPoolBackwardReference,
  attentionPoolForwardReference,
  batchNormRunningUpdateReference,
  batchNormStatsReference,
  crossEntropyReference,
  probeGradientsReference,
  probeLossReference,
  type PoolShape,
  type ProbeShape,
} from '../src/reference/probe';
import { randomF32 } from '../src/reference/random';

/*
 * The probe's float64 backward references against central differences (h = 1e-6, float64:
 * difference error ~1e-9 relative, so a right gradient gives ≪ 1e-6 and a wrong one O(1)).
 * The WGSL backward kernels are checked against these references (probeKernels.test.ts).
 */

const poolCases: Array<[string, PoolShape]> = [
  ['B=2 N=5 H=3 dh=2', { batch: 2, tokens: 5, heads: 3, headDim: 2 }],
  ['B=1 N=1 H=1 dh=4 (a single token)', { batch: 1, tokens: 1, heads: 1, headDim: 4 }],
  ['B=3 N=7 H=1 dh=3', { batch: 3, tokens: 7, heads: 1, headDim: 3 }],
];

describe('attention pooling backward reference: finite differences', () => {
  poolCases.forEach(([name, s], n) => {
    it(name, () => {
      const D = s.heads * s.headDim;
      const q = Float64Array.from(randomF32(D, 10 + n, -1.5, 1.5));
      const k = Float64Array.from(randomF32(s.batch * s.tokens * D, 20 + n, -1.5, 1.5));
      const v = Float64Array.from(randomF32(s.batch * s.tokens * D, 30 + n));
      const w = Float64Array.from(randomF32(s.batch * D, 40 + n));
      const back = attentionPoolBackwardReference(q, k, v, w, s);
      const f = (qq: Float64Array, kk: Float64Array, vv: Float64Array) =>
        weightedSum(attentionPoolForwardReference(qq, kk, vv, s).pooled, w);
      const all = { samples: 1e9 };
      expect(checkGradient((x) => f(x, k, v), q, back.dq, all).worstRelativeError).toBeLessThan(
        1e-6,
      );
      expect(checkGradient((x) => f(q, x, v), k, back.dk, all).worstRelativeError).toBeLessThan(
        1e-6,
      );
      expect(checkGradient((x) => f(q, k, x), v, back.dv, all).worstRelativeError).toBeLessThan(
        1e-6,
      );
    });
  });

  it('the check fails for a backward without the 1/√dh scale', () => {
    const s = poolCases[0][1];
    const D = s.heads * s.headDim;
    const q = Float64Array.from(randomF32(D, 10, -1.5, 1.5));
    const k = Float64Array.from(randomF32(s.batch * s.tokens * D, 20, -1.5, 1.5));
    const v = Float64Array.from(randomF32(s.batch * s.tokens * D, 30));
    const w = Float64Array.from(randomF32(s.batch * D, 40));
    const back = attentionPoolBackwardReference(q, k, v, w, s);
    const unscaled = back.dq.map((g) => g * Math.sqrt(s.headDim));
    const f = (x: Float64Array) => weightedSum(attentionPoolForwardReference(x, k, v, s).pooled, w);
    expect(checkGradient(f, q, unscaled, { samples: D }).worstRelativeError).toBeGreaterThan(0.1);
  });
});

describe('cross-entropy reference: finite differences', () => {
  for (const classes of [1, 7]) {
    it(`B=3, ${classes} class(es)`, () => {
      const labels = [0, classes - 1, Math.floor(classes / 2)];
      const x = Float64Array.from(randomF32(3 * classes, 5 + classes, -3, 3));
      const { dlogits } = crossEntropyReference(x, labels, classes);
      const f = (l: Float64Array) => crossEntropyReference(l, labels, classes).loss;
      const r = checkGradient(f, x, dlogits, { samples: 1e9 });
      expect(r.worstRelativeError).toBeLessThan(1e-6);
    });
  }
});

const probeShapes: Array<[string, ProbeShape]> = [
  ['B=3 N=5 D=6 H=3, 7 classes', { batch: 3, tokens: 5, dim: 6, heads: 3, classes: 7 }],
  ['B=2 N=1 D=4 H=1, 1 class', { batch: 2, tokens: 1, dim: 4, heads: 1, classes: 1 }],
  ['B=1 N=4 D=3 H=1, 2 classes', { batch: 1, tokens: 4, dim: 3, heads: 1, classes: 2 }],
];

function probeParams(s: ProbeShape, seed: number): Map<string, Float64Array> {
  const { dim: D, classes: C } = s;
  const r = (n: number, k: number, range = 1) =>
    Float64Array.from(randomF32(n, seed + k, -range, range));
  return new Map([
    ['head.cls_token', r(D, 1, 0.8)],
    ['head.k.weight', r(D * D, 2, 0.8)],
    ['head.v.weight', r(D * D, 3, 0.8)],
    ['head.linear.weight', r(C * D, 4)],
    ['head.linear.bias', r(C, 5)],
  ]);
}

describe('whole-probe gradients (BatchNorm with batch statistics, pooling, classifier, loss)', () => {
  for (const kind of ['attentive', 'linear'] as const) {
    probeShapes.forEach(([name, s], n) => {
      // One sample of one token has no batch variance to normalise (torch refuses it).
      if (kind === 'linear' && s.batch === 1) return;
      it(`${kind}: ${name}`, () => {
        const features = randomF32(s.batch * s.tokens * s.dim, 70 + n, -2, 2);
        const labels = Array.from({ length: s.batch }, (_, b) => (b * 3) % s.classes);
        const params = probeParams(s, 80 + n);
        const grads = probeGradientsReference(kind, features, labels, params, s);
        const keys =
          kind === 'attentive' ? [...params.keys()] : ['head.linear.weight', 'head.linear.bias'];
        expect([...grads.keys()].sort()).toEqual(keys.sort());
        for (const key of keys) {
          const x = params.get(key)!;
          const f = (value: Float64Array) =>
            probeLossReference(kind, features, labels, new Map([...params, [key, value]]), s);
          const r = checkGradient(f, Float64Array.from(x), grads.get(key)!, { samples: 1e9 });
          expect(r.worstRelativeError, key).toBeLessThan(1e-5);
        }
      });
    });
  }
});

describe('BatchNorm reference', () => {
  it('running statistics follow torch (momentum 0.1, unbiased variance)', () => {
    // x = [1, 2, 3, 6] in one channel: mean 3, biased var 3.5, unbiased 14/3.
    const stats = batchNormStatsReference([1, 2, 3, 6], 4, 1);
    expect(stats.mean[0]).toBe(3);
    expect(stats.variance[0]).toBe(3.5);
    const r = batchNormRunningUpdateReference([0], [1], stats, 4);
    expect(r.runningMean[0]).toBeCloseTo(0.3, 15);
    expect(r.runningVar[0]).toBeCloseTo(0.9 + 0.1 * (14 / 3), 15);
    expect(() => batchNormRunningUpdateReference([0], [1], stats, 1)).toThrow(/more than one/);
  });
});
