import { describe, expect, it } from 'vitest';
import { DEFAULT_WARMUP, learningRate, warmupSteps } from '../src/training/schedule';

const s = { peakLr: 1e-3, totalSteps: 1000, ...DEFAULT_WARMUP };

describe('learning-rate schedule (linear warm-up from 1e-6 over 2.5 %, cosine to 0)', () => {
  it('warms up linearly from 1e-6', () => {
    expect(warmupSteps(s)).toBe(25);
    expect(learningRate(s, 0)).toBeCloseTo(1e-6, 15);
    expect(learningRate(s, 10)).toBeCloseTo(1e-6 + (1e-3 - 1e-6) * (10 / 25), 15);
  });
  it('peaks after warm-up and decays by a cosine to exactly 0 at the last step', () => {
    expect(learningRate(s, 25)).toBeCloseTo(1e-3, 15);
    const mid = 25 + (999 - 25) / 2;
    expect(learningRate(s, mid)).toBeCloseTo(0.5e-3, 12);
    expect(learningRate(s, 999)).toBe(0);
  });
  it('is monotone after the warm-up', () => {
    for (let t = 26; t < 1000; t++)
      expect(learningRate(s, t)).toBeLessThanOrEqual(learningRate(s, t - 1));
  });
  it('handles runs too short to warm up', () => {
    const short = { ...s, totalSteps: 10 };
    expect(warmupSteps(short)).toBe(0);
    expect(learningRate(short, 0)).toBe(1e-3);
    expect(learningRate(short, 9)).toBe(0);
  });
});
