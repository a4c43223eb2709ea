import { describe, expect, it } from 'vitest';
import { explicitConfig, numPatches, PRESETS, sameModelConfig } from '../src/model/config';
import { DEFAULT_WARMUP } from '../src/training/schedule';
import {
  afterStep,
  customModelChanges,
  DEFAULT_SETTINGS,
  defaultsFor,
  fieldProblems,
  modelConfigFor,
  modelName,
  PRESET_FOLLOWERS,
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

  it('lets the model shape (trunk width, depth, heads; head width, depth) follow the preset', () => {
    expect(defaultsFor('aim-micro').headDepth).toBe(PRESETS['aim-micro'].head.depth);
    expect(PRESET_FOLLOWERS).toEqual(['headDepth', 'headWidth', 'width', 'depth', 'heads']);
    const small = PRESETS['aim-small'];
    // Choosing a preset sets its shape, over a custom one; other settings stay.
    const changed = withPreset(
      { ...DEFAULT_SETTINGS, lr: 5e-4, width: 48, depth: 2, targets: 'raw', headKind: 'none' },
      'aim-small',
    );
    expect(changed).toEqual({
      ...DEFAULT_SETTINGS,
      lr: 5e-4,
      targets: 'raw',
      headKind: 'none',
      preset: 'aim-small',
      headDepth: small.head.depth,
      headWidth: small.head.width,
      width: small.width,
      depth: small.depth,
      heads: small.heads,
    });
    expect(customModelChanges(changed)).toEqual([]);
    expect(modelConfigFor(changed)).toEqual(
      explicitConfig({ ...small, head: { ...small.head, kind: 'none' }, targets: 'raw' }),
    );
  });

  it('a shape edited away from the preset is a custom model, named after its preset', () => {
    const preset = modelConfigFor(micro);
    expect(preset.name).toBe('aim-micro');
    expect(sameModelConfig(preset, PRESETS['aim-micro'])).toBe(true);
    const custom = { ...micro, width: 48, depth: 3 };
    expect(customModelChanges(custom)).toEqual([
      'trunk width 48 (aim-micro: 64)',
      'trunk depth 3 (aim-micro: 2)',
    ]);
    expect(modelName(custom)).toBe('aim-micro (custom)');
    const c = modelConfigFor(custom);
    expect([c.name, c.width, c.depth, c.heads, c.imageSize, c.patchSize]).toEqual([
      'aim-micro (custom)',
      48,
      3,
      2,
      16,
      4,
    ]);
    expect(sameModelConfig(c, preset)).toBe(false);
    // Back to the preset's values: the preset again.
    expect(modelName({ ...custom, width: 64, depth: 2 })).toBe('aim-micro');
    // Head and targets are not the preset's shape: the model keeps the preset's name.
    expect(modelName({ ...micro, headKind: 'none', targets: 'raw' })).toBe('aim-micro');
  });

  it('carries head and targets into the model config, the same model as one that omits defaults', () => {
    const c = modelConfigFor({ ...micro, targets: 'raw', headKind: 'none', headWidth: 40 });
    expect([c.targets, c.head.kind, c.head.width]).toEqual(['raw', 'none', 40]);
    // A checkpoint written before the choices existed names neither: the same model.
    const old = { ...modelConfigFor(micro), targets: undefined };
    expect(
      sameModelConfig({ ...old, head: { ...old.head, kind: undefined } }, modelConfigFor(micro)),
    ).toBe(true);
    expect(sameModelConfig(old, c)).toBe(false);
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

  it('says before a run why a trunk shape cannot be built, on the field to change', () => {
    // aim-tiny has 6 heads.
    const tiny = defaultsFor('aim-tiny');
    expect(validateSettings({ ...tiny, width: 50 })).toEqual([
      'Trunk width 50 is not divisible by 6 heads.',
      'Trunk width 50 must be divisible by 4 for the 2-D sin-cos positions.',
    ]);
    expect(Object.keys(fieldProblems({ ...tiny, width: 50 }))).toEqual(['width']);
    expect(fieldProblems({ ...tiny, width: 48, depth: 2 })).toEqual({});
    expect(fieldProblems({ ...tiny, width: 768, heads: 2 })).toEqual({
      heads:
        "Head dimension 384 (trunk width 768 ÷ 2 heads) is above the attention kernel's 128: use more heads.",
    });
    // A value out of its own bounds is said once, by its bound.
    expect(validateSettings({ ...tiny, width: 4098 })).toEqual([
      'The trunk width must be a whole number from 4 to 2048.',
    ]);
    expect(validateSettings({ ...tiny, depth: 0, heads: 65 })).toEqual([
      'The trunk depth must be a positive whole number up to 48.',
      'The number of attention heads must be a positive whole number up to 64.',
    ]);
    expect(fieldProblems({ ...tiny, headWidth: 42 })).toEqual({
      headWidth: 'Head width 42 must be a positive multiple of 4 (its sin-cos positions).',
    });
    // Without a head, its width is not used and cannot be wrong.
    expect(validateSettings({ ...tiny, headWidth: 42, headKind: 'none' })).toEqual([]);
    expect(validateSettings({ ...tiny, targets: 'tokens' as never })).toEqual([
      'Unknown targets "tokens".',
    ]);
    expect(validateSettings({ ...tiny, headKind: 'transformer' as never })).toEqual([
      'Unknown prediction head "transformer".',
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

describe('the address with the paper’s settings', () => {
  it('round-trips targets, head, trunk and head shape; the preset’s own values stay out', () => {
    const s: RunSettings = {
      ...micro,
      targets: 'raw',
      headKind: 'none',
      width: 48,
      depth: 2, // aim-micro's own: not written
      heads: 3,
      headWidth: 40,
      prefix: false,
      cropScaleMin: 0.08,
    };
    const query = encodeSettings(s, 'fashion-mnist');
    expect(query).toBe(
      'preset=aim-micro&prefix=0&targets=raw&headKind=none&headWidth=40&width=48&heads=3&cropScaleMin=0.08',
    );
    const back = decodeSettings(query);
    expect(back.ignored).toEqual([]);
    expect(back.settings).toEqual(s);
    expect(decodeSettings('targets=tokens&headKind=transformer').ignored).toEqual([
      'Unknown targets "tokens".',
      'Unknown prediction head "transformer".',
    ]);
  });
});

describe('the evaluation and checkpoint policy', () => {
  it('evaluates every evalEvery steps and at the end; checkpoints likewise, 0 meaning only at the end', () => {
    const s = { evalEvery: 2, checkpointEvery: 3 };
    const at = (step: number, done = false) => afterStep(s, step, done);
    expect(at(1)).toEqual({ evaluate: false, checkpoint: false, probe: false });
    expect(at(2)).toEqual({ evaluate: true, checkpoint: false, probe: false });
    expect(at(3)).toEqual({ evaluate: false, checkpoint: true, probe: false });
    expect(at(5, true)).toEqual({ evaluate: true, checkpoint: true, probe: false });
    expect(afterStep({ evalEvery: 100, checkpointEvery: 0 }, 100, false)).toEqual({
      evaluate: true,
      checkpoint: false,
      probe: false,
    });
  });
});
