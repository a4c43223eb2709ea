/**
 * Everything a run is configured by, as plain data: the UI's settings panel, the URL, the
 * headless CLI and checkpoints all read and write this one shape. Its fields, defaults and
 * bounds are the entries of SETTINGS_SCHEMA (./settingsSchema.ts); this file derives the
 * defaults and the validation from them, and holds the rules that tie settings together.
 */
import { PRESETS, validateConfig, type AimConfig, type PresetName } from '../model/config';
import {
  SETTING_KEYS,
  settingSpec,
  SETTINGS_SCHEMA,
  type NumberSetting,
  type NumericBounds,
  type RunSettings,
  type SettingKey,
} from './settingsSchema';

export type { RunSettings, SettingKey } from './settingsSchema';
export { SETTING_KEYS, SETTINGS_SCHEMA } from './settingsSchema';

export const DEFAULT_SETTINGS: RunSettings = Object.fromEntries(
  SETTING_KEYS.map((key) => [key, SETTINGS_SCHEMA[key].default]),
) as RunSettings;

/** The defaults with `preset`'s own values where a setting follows the preset (head depth). */
export function defaultsFor(preset: PresetName): RunSettings {
  const settings: Record<string, unknown> = { ...DEFAULT_SETTINGS, preset };
  for (const key of SETTING_KEYS) {
    const spec = settingSpec(key);
    if (spec.kind === 'number' && spec.presetDefault) settings[key] = spec.presetDefault(preset);
  }
  return settings as RunSettings;
}

/** The settings that follow the preset (until the user changes them): the head depth. */
export const PRESET_FOLLOWERS: readonly SettingKey[] = SETTING_KEYS.filter((key) => {
  const spec = settingSpec(key);
  return spec.kind === 'number' && spec.presetDefault !== undefined;
});

/** `s` with another preset, the settings that follow the preset taking its values. */
export function withPreset(s: RunSettings, preset: PresetName): RunSettings {
  const defaults = defaultsFor(preset);
  const out: Record<string, unknown> = { ...s, preset };
  for (const key of PRESET_FOLLOWERS) out[key] = defaults[key];
  return out as RunSettings;
}

/** The model configuration a run trains: the preset with the run's head settings. */
export function modelConfigFor(s: RunSettings): AimConfig {
  const base = PRESETS[s.preset];
  return {
    ...base,
    head: { ...base.head, depth: s.headDepth, extraNormTerm: s.headExtraNormTerm },
  };
}

/** What a message calls a setting: its noun, else its label in lower case. */
export function settingNoun(key: SettingKey): string {
  const spec = settingSpec(key);
  return spec.noun ?? spec.label.charAt(0).toLowerCase() + spec.label.slice(1);
}

function formatBound(n: number): string {
  return Number.isInteger(n) && Math.abs(n) >= 10_000 ? n.toLocaleString('en-US') : String(n);
}

/** The largest value within `bounds` for `preset`, if there is one. */
export function maxOf(bounds: NumericBounds, preset?: string): number | undefined {
  if (typeof bounds.max !== 'function') return bounds.max;
  return preset !== undefined && preset in PRESETS ? bounds.max(preset as PresetName) : undefined;
}

/** Whether `v` is a number within `bounds` (for `preset`, where the bounds depend on it). */
export function withinBounds(v: unknown, bounds: NumericBounds, preset?: string): v is number {
  const max = maxOf(bounds, preset);
  return (
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!bounds.integer || Number.isInteger(v)) &&
    (bounds.minExclusive ? v > bounds.min : v >= bounds.min) &&
    (max === undefined || (bounds.maxExclusive ? v < max : v <= max))
  );
}

/**
 * The values `bounds` allow, in words — "a positive whole number up to 4,096", "a number
 * above 0 and below 1" — the one phrasing of ranges in validation and command-line messages.
 */
export function rangeText(bounds: NumericBounds, preset?: string): string {
  const max = maxOf(bounds, preset);
  const upper =
    max === undefined ? '' : `${bounds.maxExclusive ? 'below' : 'at most'} ${formatBound(max)}`;
  if (bounds.integer && bounds.min === 1 && !bounds.minExclusive)
    return `a positive whole number${max === undefined ? '' : ` up to ${formatBound(max)}`}`;
  if (bounds.integer && max !== undefined && !bounds.minExclusive && !bounds.maxExclusive)
    return `a whole number from ${formatBound(bounds.min)} to ${formatBound(max)}`;
  const lower = `${bounds.minExclusive ? 'above' : 'at least'} ${formatBound(bounds.min)}`;
  return `a ${bounds.integer ? 'whole number' : 'number'} ${lower}${upper ? ` and ${upper}` : ''}`;
}

function numberProblem(key: SettingKey, spec: NumberSetting, s: RunSettings): string | undefined {
  if (withinBounds(s[key], spec, s.preset)) return undefined;
  const reason = spec.maxReason && s.preset in PRESETS ? ` (${spec.maxReason(s.preset)})` : '';
  return `The ${settingNoun(key)} must be ${rangeText(spec, s.preset)}${reason}.`;
}

/** The problem with one setting's value, as a sentence; undefined when it is fine. */
export function settingProblem(s: RunSettings, key: SettingKey): string | undefined {
  const spec = settingSpec(key);
  const v = s[key] as unknown;
  switch (spec.kind) {
    case 'number':
      return numberProblem(key, spec, s);
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `The ${settingNoun(key)} must be on or off.`;
    case 'choice':
      return (spec.choices as readonly unknown[]).includes(v)
        ? undefined
        : `Unknown ${settingNoun(key)} "${String(v)}".`;
  }
}

/** Each setting whose value is out of its bounds, with the sentence that says so. */
export function fieldProblems(s: RunSettings): Partial<Record<SettingKey, string>> {
  const out: Partial<Record<SettingKey, string>> = {};
  for (const key of SETTING_KEYS) {
    const problem = settingProblem(s, key);
    if (problem) out[key] = problem;
  }
  return out;
}

/** Problems with the settings, as sentences; empty when they can run. */
export function validateSettings(s: RunSettings): string[] {
  const fields = fieldProblems(s);
  const problems: string[] = [];
  if (!fields.preset) {
    if (PRESETS[s.preset].inferenceOnly)
      problems.push(`${s.preset} is too large to train in a browser tab.`);
    // (A head depth out of bounds is reported once, below, not again by the model's checks.)
    if (!fields.headDepth) problems.push(...validateConfig(modelConfigFor(s)));
  }
  for (const key of SETTING_KEYS) if (fields[key]) problems.push(fields[key]);
  return problems;
}

/**
 * What follows optimizer step `step` (1-based) of a run, in the page's worker and in the
 * CLI alike: an evaluation every `evalEvery` steps and after the last; a checkpoint every
 * `checkpointEvery` steps (0: none on the way) and after the last.
 */
export function afterStep(
  s: Pick<RunSettings, 'evalEvery' | 'checkpointEvery'>,
  step: number,
  done: boolean,
): { evaluate: boolean; checkpoint: boolean } {
  return {
    evaluate: step % s.evalEvery === 0 || done,
    checkpoint: (s.checkpointEvery > 0 && step % s.checkpointEvery === 0) || done,
  };
}
