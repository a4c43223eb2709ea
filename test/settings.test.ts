import { describe, expect, it } from 'vitest';
import { numPatches, PRESETS } from '../src/model/config';
import { DEFAULT_WARMUP } from '../src/training/schedule';
import {
  afterStep,
  DEFAULT_SETTINGS,
  defaultsFor,
  fieldProblems,
  rangeText,
  SETTING_KEYS,
  SETTINGS_SCHEMA,
  validateSettings,
  withPreset,
  type RunSettings,
} from '../src/training/settings';
import { settingSpec } from '../src/training/settingsSchema';
import { decodeSettings, encodeSettings } from '../src/ui/urlSettings';

const micro: RunSettings = defaultsFor('aim-micro');

describe('the run settings’ schema', () => {
  it('gives every setting a default within its own bounds, and distinct flags and test ids', () => {
    expect(Object.keys(DEFAULT_SETTINGS)).toEqual(SETTING_KEYS);
    expect(validateSettings(DEFAULT_SETTINGS)).toEqual([]);
    for (const preset of ['aim-micro', 'aim-tiny', 'aim-small'] as const)
      expect(validateSettings(defaultsFor(preset)), preset).toEqual([]);
    const flags = SETTING_KEYS.map((key) => settingSpec(key).flag);
    const testIds = SETTING_KEYS.map((key) => settingSpec(key).testId);
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(testIds).size).toBe(testIds.length);
    for (const key of SETTING_KEYS) {
      const spec = settingSpec(key);
      if (spec.paper !== undefined && spec.kind === 'number')
        expect(validateSettings({ ...DEFAULT_SETTINGS, [key]: spec.paper }), key).toEqual([]);
    }
  });

  it('keeps the recipe’s warm-up in one place', () => {
    expect(DEFAULT_SETTINGS.warmupFraction).toBe(DEFAULT_WARMUP.warmupFraction);
  });

  it('lets the head depth follow the preset', () => {
    expect(defaultsFor('aim-micro').headDepth).toBe(PRESETS['aim-micro'].head.depth);
    const changed = withPreset({ ...DEFAULT_SETTINGS, lr: 5e-4 }, 'aim-small');
    expect(changed).toEqual({
      ...DEFAULT_SETTINGS,
      lr: 5e-4,
      preset: 'aim-small',
      headDepth: PRESETS['aim-small'].head.depth,
    });
  });
});

describe('validation with bounds', () => {
  it('refuses values above the upper bounds, in one style naming the setting', () => {
    const problems = validateSettings({
      ...micro,
      steps: 1e12,
      batch: 5000,
      chunks: 1000,
      lr: NaN,
      seed: 2 ** 32,
    });
    expect(problems).toEqual([
      'The batch must be a positive whole number up to 4096.',
      'The number of steps must be a positive whole number up to 1,000,000.',
      'The learning rate must be a number above 0 and below 1.',
      'The seed must be a whole number from 0 to 4,294,967,295.',
      'The number of loss chunks must be a positive whole number up to 15 (aim-micro predicts 15 patches per image).',
    ]);
    for (const p of problems) expect(p).toMatch(/^The [a-z].* must be /);
  });

  it('keeps the messages the page already shows', () => {
    expect(validateSettings({ ...micro, batch: 0 }).join('\n')).toContain(
      'batch must be a positive whole number',
    );
    expect(validateSettings({ ...micro, preset: 'aim-huge' as never })).toContain(
      'Unknown preset "aim-huge".',
    );
    expect(validateSettings({ ...micro, ordering: 'zigzag' as never })).toEqual([
      'Unknown ordering "zigzag".',
    ]);
  });

  it('bounds the loss chunks by the preset’s targets', () => {
    const targets = numPatches(PRESETS['aim-micro']) - 1;
    expect(fieldProblems({ ...micro, chunks: targets })).toEqual({});
    expect(Object.keys(fieldProblems({ ...micro, chunks: targets + 1 }))).toEqual(['chunks']);
    expect(fieldProblems({ ...micro, preset: 'aim-tiny', chunks: targets + 1 })).toEqual({});
  });

  it('reports a head depth out of bounds once', () => {
    expect(validateSettings({ ...micro, headDepth: -1 })).toEqual([
      'The head depth must be a whole number from 0 to 24.',
    ]);
  });

  it('words ranges one way', () => {
    expect(rangeText(SETTINGS_SCHEMA.warmupFraction)).toBe('a number at least 0 and below 1');
    expect(rangeText(SETTINGS_SCHEMA.cropScaleMin)).toBe('a number above 0 and at most 1');
    expect(rangeText(SETTINGS_SCHEMA.checkpointEvery)).toBe('a whole number from 0 to 1,000,000');
    expect(rangeText(SETTINGS_SCHEMA.chunks, 'aim-tiny')).toBe('a positive whole number up to 63');
  });
});

describe('the address', () => {
  it('never carries a number that is not finite', () => {
    const query = encodeSettings({ ...DEFAULT_SETTINGS, lr: NaN, steps: 50 }, 'fashion-mnist');
    expect(query).toBe('steps=50');
    expect(query).not.toContain('NaN');
  });

  it('decodes every setting the schema has, out-of-bounds values left to validation', () => {
    const state = decodeSettings('#preset=aim-micro&steps=1e12&colorJitter=1&chunks=4');
    expect(state.ignored).toEqual([]);
    expect(state.settings).toEqual({ ...micro, steps: 1e12, colorJitter: true, chunks: 4 });
    expect(validateSettings(state.settings)).toHaveLength(1);
  });
});

describe('the evaluation and checkpoint policy', () => {
  it('evaluates every evalEvery steps and at the end; checkpoints likewise, 0 meaning only at the end', () => {
    const s = { evalEvery: 2, checkpointEvery: 3 };
    const at = (step: number, done = false) => afterStep(s, step, done);
    expect(at(1)).toEqual({ evaluate: false, checkpoint: false });
    expect(at(2)).toEqual({ evaluate: true, checkpoint: false });
    expect(at(3)).toEqual({ evaluate: false, checkpoint: true });
    expect(at(5, true)).toEqual({ evaluate: true, checkpoint: true });
    expect(afterStep({ evalEvery: 100, checkpointEvery: 0 }, 100, false)).toEqual({
      evaluate: true,
      checkpoint: false,
    });
  });
});
