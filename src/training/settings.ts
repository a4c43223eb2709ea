/**
 * Everything a run is configured by, as plain data: the UI's settings panel, the URL, the
 * headless CLI and checkpoints all read and write this one shape. Its fields, defaults and
 * bounds are the entries of SETTINGS_SCHEMA (./settingsSchema.ts); this file derives the
 * defaults and the validation from them, and holds the rules that tie settings together.
 */
import {
  configProblems,
  PRESETS,
  type AimConfig,
  type ConfigProblem,
  type PresetName,
} from '../model/config';
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

/** The defaults with `preset`'s own values where a setting follows the preset (its shape). */
export function defaultsFor(preset: PresetName): RunSettings {
  const settings: Record<string, unknown> = { ...DEFAULT_SETTINGS, preset };
  for (const key of SETTING_KEYS) {
    const spec = settingSpec(key);
    if (spec.kind === 'number' && spec.presetDefault) settings[key] = spec.presetDefault(preset);
  }
  return settings as RunSettings;
}

/**
 * The settings that follow the preset (until the user changes them): the trunk's width,
 * depth and heads and the head's width and depth. Choosing a preset sets them all; editing
 * one afterwards makes the model a custom one (`customModelChanges`), still named after the
 * preset it started from.
 */
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

/**
 * The preset-following settings whose values differ from the preset's own, as "trunk width
 * 48 (aim-tiny: 192)"; empty when the run trains the preset's model as it is.
 */
export function customModelChanges(s: RunSettings): string[] {
  if (!(s.preset in PRESETS)) return [];
  const own = defaultsFor(s.preset);
  return PRESET_FOLLOWERS.filter((key) => s[key] !== own[key]).map(
    (key) => `${settingNoun(key)} ${String(s[key])} (${s.preset}: ${String(own[key])})`,
  );
}

/**
 * What the model is called: the preset's name, or "aim-tiny (custom)" once a setting that
 * follows the preset differs from it — the name the memory summary, checkpoints' model config
 * and run lists show.
 */
export function modelName(s: RunSettings): string {
  return customModelChanges(s).length ? `${s.preset} (custom)` : s.preset;
}

/**
 * The model configuration a run trains: the preset's image and patch sizes with the run's
 * trunk shape, head and targets.
 */
export function modelConfigFor(s: RunSettings): AimConfig {
  const base = PRESETS[s.preset];
  return {
    ...base,
    name: modelName(s),
    width: s.width,
    depth: s.depth,
    heads: s.heads,
    head: {
      ...base.head,
      kind: s.headKind,
      width: s.headWidth,
      depth: s.headDepth,
      extraNormTerm: s.headExtraNormTerm,
    },
    targets: s.targets,
  };
}

/**
 * The settings the model's own checks (validateConfig) are about: when one of them is out
 * of its bounds that is said once, by the bound, not again by the model's checks.
 */
const MODEL_SHAPE_KEYS: readonly SettingKey[] = [
  'preset',
  'width',
  'depth',
  'heads',
  'headKind',
  'headWidth',
  'headDepth',
  'targets',
];

/**
 * Problems of the model shape that no single bound catches (the trunk width divisible by the
 * heads and by 4, a head dimension of at most 128, a head width divisible by 4). Empty while
 * a shape setting is out of its own bounds (that is said once, by its bound).
 */
function modelShapeProblems(
  s: RunSettings,
  bounds: Partial<Record<SettingKey, string>>,
): ConfigProblem[] {
  if (MODEL_SHAPE_KEYS.some((key) => bounds[key])) return [];
  return configProblems(modelConfigFor(s));
}

/** The setting a model problem is marked on: the one a user would change. */
const PROBLEM_FIELD: Partial<Record<ConfigProblem['about'], SettingKey>> = {
  width: 'width',
  heads: 'heads',
  depth: 'depth',
  headWidth: 'headWidth',
  headDepth: 'headDepth',
};

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

function boundProblems(s: RunSettings): Partial<Record<SettingKey, string>> {
  const out: Partial<Record<SettingKey, string>> = {};
  for (const key of SETTING_KEYS) {
    const problem = settingProblem(s, key);
    if (problem) out[key] = problem;
  }
  return out;
}

/**
 * Each setting whose value cannot run, with the sentence that says so: out of its bounds,
 * or (the trunk width) not a shape the model can take with the other settings.
 */
export function fieldProblems(s: RunSettings): Partial<Record<SettingKey, string>> {
  const out = boundProblems(s);
  for (const { about, message } of modelShapeProblems(s, out)) {
    const key = PROBLEM_FIELD[about];
    if (key) out[key] = out[key] ? `${out[key]} ${message}` : message;
  }
  return out;
}

/** Problems with the settings, as sentences; empty when they can run. */
export function validateSettings(s: RunSettings): string[] {
  const fields = boundProblems(s);
  const problems: string[] = [];
  if (!fields.preset) {
    if (PRESETS[s.preset].inferenceOnly)
      problems.push(`${s.preset} is too large to train in a browser tab.`);
    problems.push(...modelShapeProblems(s, fields).map((p) => p.message));
  }
  for (const key of SETTING_KEYS) if (fields[key]) problems.push(fields[key]);
  return problems;
}

/**
 * What follows optimizer step `step` (1-based) of a run, in the page's worker and in the
 * CLI alike: an evaluation every `evalEvery` steps and after the last; a checkpoint every
 * `checkpointEvery` steps (0: none on the way) and after the last; probes every `probeEvery`
 * steps and after the last (0: never). A probe step is an evaluation step too, so that every
 * probe result has the validation loss of the same parameters beside it.
 */
export function afterStep(
  s: Pick<RunSettings, 'evalEvery' | 'checkpointEvery'> & Partial<Pick<RunSettings, 'probeEvery'>>,
  step: number,
  done: boolean,
): { evaluate: boolean; checkpoint: boolean; probe: boolean } {
  // (A run recorded before probing existed has no probeEvery: it never probes.)
  const probeEvery = s.probeEvery ?? 0;
  const probe = probeEvery > 0 && (step % probeEvery === 0 || done);
  return {
    evaluate: step % s.evalEvery === 0 || done || probe,
    checkpoint: (s.checkpointEvery > 0 && step % s.checkpointEvery === 0) || done,
    probe,
  };
}

/**
 * Whether the training loop may submit the step after `step` before reading `step`'s results
 * (Trainer.trainStep's submitNext): there is one, and nothing reads the state between the two
 * (an evaluation, a probe, a checkpoint).
 */
export function submitsNextAfter(
  s: Pick<RunSettings, 'steps' | 'evalEvery' | 'checkpointEvery'> &
    Partial<Pick<RunSettings, 'probeEvery'>>,
  step: number,
): boolean {
  if (step >= s.steps) return false;
  const between = afterStep(s, step, false);
  return !between.evaluate && !between.checkpoint && !between.probe;
}
