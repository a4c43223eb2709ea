import { describe, expect, it } from 'vitest';
import {
  configProblems,
  isAimConfig,
  numPatches,
  parameterCount,
  PRESETS,
  sameModelConfig,
  validateConfig,
  type AimConfig,
} from '../src/model/config';

describe('model presets', () => {
  it('every preset is valid', () => {
    for (const c of Object.values(PRESETS)) expect(validateConfig(c), c.name).toEqual([]);
  });

  it('aim-tiny is the ≈ 4.8 M-parameter model of the PyTorch reference measurement', () => {
    expect(numPatches(PRESETS['aim-tiny'])).toBe(64);
    const { total } = parameterCount(PRESETS['aim-tiny']);
    expect(total / 1e6).toBeGreaterThan(4.7);
    expect(total / 1e6).toBeLessThan(4.9);
  });

  it('aim-small is the ≈ 34 M-parameter model of the PyTorch reference measurement', () => {
    const { total } = parameterCount(PRESETS['aim-small']);
    expect(total / 1e6).toBeGreaterThan(33);
    expect(total / 1e6).toBeLessThan(35);
  });

  it("the paper's trunks have their nominal sizes", () => {
    // The released names round the trunk size: 600M ≈ 0.6 B, 7B ≈ 6.5 B.
    expect(parameterCount(PRESETS['aim-600M']).trunk / 1e9).toBeCloseTo(0.68, 1);
    expect(parameterCount(PRESETS['aim-1B']).trunk / 1e9).toBeCloseTo(1.2, 1);
    expect(parameterCount(PRESETS['aim-3B']).trunk / 1e9).toBeCloseTo(2.7, 1);
    expect(parameterCount(PRESETS['aim-7B']).trunk / 1e9).toBeCloseTo(6.4, 1);
  });

  it('explains invalid configurations in words', () => {
    const bad = { ...PRESETS['aim-tiny'], imageSize: 30 };
    expect(validateConfig(bad)).toContain('Image size 30 is not divisible by the patch size 4.');
    expect(validateConfig({ ...PRESETS['aim-tiny'], heads: 5 })[0]).toMatch(
      /not divisible by 5 heads/,
    );
    expect(validateConfig({ ...PRESETS['aim-tiny'], heads: 1 })[0]).toMatch(
      /above the attention kernel's 128/,
    );
  });

  it('says which number a problem is about, and leaves an unused head width alone', () => {
    const tiny = PRESETS['aim-tiny'];
    expect(configProblems({ ...tiny, width: 50 }).map((p) => p.about)).toEqual(['width', 'width']);
    expect(configProblems({ ...tiny, heads: 1 }).map((p) => p.about)).toEqual(['heads']);
    const oddHead = { ...tiny, head: { ...tiny.head, width: 30 } };
    expect(configProblems(oddHead)).toEqual([
      {
        about: 'headWidth',
        message: 'Head width 30 must be a positive multiple of 4 (its sin-cos positions).',
      },
    ]);
    expect(validateConfig({ ...oddHead, head: { ...oddHead.head, kind: 'none' } })).toEqual([]);
    expect(validateConfig({ ...tiny, targets: 'tokens' as never })).toEqual([
      'Unknown targets "tokens": use normalized or raw.',
    ]);
  });

  it('head none: the trunk plus one Linear D → p·p·3 with bias', () => {
    const c: AimConfig = {
      ...PRESETS['aim-tiny'],
      head: { ...PRESETS['aim-tiny'].head, kind: 'none' },
    };
    const withHead = parameterCount(PRESETS['aim-tiny']);
    expect(parameterCount(c)).toEqual({
      trunk: withHead.trunk,
      head: 192 * 48 + 48,
      total: withHead.trunk + 192 * 48 + 48,
    });
  });

  it('one model whether or not its config names the default head and targets', () => {
    const tiny = PRESETS['aim-tiny'];
    const named: AimConfig = {
      ...tiny,
      targets: 'normalized',
      head: { kind: 'mlp', ...tiny.head },
    };
    expect(sameModelConfig(tiny, named)).toBe(true);
    expect(sameModelConfig(tiny, { ...named, targets: 'raw' })).toBe(false);
    expect(sameModelConfig(tiny, { ...tiny, head: { ...tiny.head, kind: 'none' } })).toBe(false);
    expect(sameModelConfig(tiny, { ...tiny, width: 96 })).toBe(false);
    expect(isAimConfig(JSON.parse(JSON.stringify(tiny)))).toBe(true);
    expect(isAimConfig({ width: 4 })).toBe(false);
    expect(isAimConfig(null)).toBe(false);
  });
});
