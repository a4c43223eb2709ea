/**
 * Settings ⇄ URL, as TensorFlow Playground does: every setting that differs from the
 * default goes into the hash (`#preset=aim-micro&lr=0.0005&data=procedural`), so a copied
 * link opens the page with the same configuration and seed. Unknown keys and values that do
 * not parse are ignored (and reported), never thrown: a hand-edited link must not break the page.
 */
import { PRESETS, type PresetName } from '../model/config';
import {
  DEFAULT_SETTINGS,
  defaultsFor,
  SETTING_KEYS,
  SETTINGS_SCHEMA,
  settingNoun,
  type RunSettings,
  type SettingKey,
} from '../training/settings';

/** The datasets a link can name (a user's own files cannot travel in a URL). */
export type LinkDataset = 'fashion-mnist' | 'procedural' | 'user';
export const LINK_DATASETS: readonly LinkDataset[] = ['fashion-mnist', 'procedural', 'user'];

export interface LinkState {
  settings: RunSettings;
  dataset: LinkDataset;
  /** Parameters that were present but not understood, as sentences. */
  ignored: string[];
}

/**
 * The query for `settings`: each setting that differs from the defaults (the preset's own
 * where a setting follows the preset), in schema order. A number that is not finite (a field
 * the user is still typing) is left out, so the address never says `lr=NaN`.
 */
export function encodeSettings(settings: RunSettings, dataset: LinkDataset): string {
  const defaults = defaultsFor(settings.preset);
  const params = new URLSearchParams();
  if (settings.preset !== DEFAULT_SETTINGS.preset) params.set('preset', settings.preset);
  for (const key of SETTING_KEYS) {
    const value = settings[key];
    if (key === 'preset' || value === defaults[key]) continue;
    if (typeof value === 'number' && !Number.isFinite(value)) continue;
    params.set(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  if (dataset !== 'fashion-mnist') params.set('data', dataset);
  return params.toString();
}

/** One parameter's value, or the sentence saying why it was not understood. */
function decodeValue(key: SettingKey, raw: string): { value: unknown } | { problem: string } {
  const spec = SETTINGS_SCHEMA[key];
  switch (spec.kind) {
    case 'number': {
      const value = Number(raw);
      return raw.trim() === '' || !Number.isFinite(value)
        ? { problem: `${key}=${raw} is not a number.` }
        : { value };
    }
    case 'boolean':
      if (raw === '1' || raw === 'true') return { value: true };
      if (raw === '0' || raw === 'false') return { value: false };
      return { problem: `${key}=${raw} is not 0 or 1.` };
    case 'choice':
      return (spec.choices as readonly string[]).includes(raw)
        ? { value: raw }
        : { problem: `Unknown ${settingNoun(key)} "${raw}".` };
  }
}

export function decodeSettings(query: string): LinkState {
  const params = new URLSearchParams(query.replace(/^[#?]/, ''));
  const ignored: string[] = [];
  // The preset first: the defaults of the other settings follow it.
  const presetParam = params.get('preset');
  let preset = DEFAULT_SETTINGS.preset;
  if (presetParam !== null) {
    if (presetParam in PRESETS) preset = presetParam as PresetName;
    else ignored.push(`Unknown preset "${presetParam}".`);
  }
  const settings: RunSettings = defaultsFor(preset);
  let dataset: LinkDataset = 'fashion-mnist';
  for (const [key, raw] of params) {
    // `run` names a run for the Runs tab to show (settingsStore.ts `focusRun`).
    if (key === 'preset' || key === 'tab' || key === 'run') continue;
    if (key === 'data') {
      if ((LINK_DATASETS as readonly string[]).includes(raw)) dataset = raw as LinkDataset;
      else ignored.push(`Unknown dataset "${raw}".`);
      continue;
    }
    if (!(SETTING_KEYS as readonly string[]).includes(key)) {
      ignored.push(`Unknown setting "${key}".`);
      continue;
    }
    const decoded = decodeValue(key as SettingKey, raw);
    if ('problem' in decoded) ignored.push(decoded.problem);
    else (settings as Record<SettingKey, unknown>)[key as SettingKey] = decoded.value;
  }
  return { settings, dataset, ignored };
}

/** The hash's `tab=` entry (the view to open), if any. */
export function tabFromHash(hash: string): string | undefined {
  return new URLSearchParams(hash.replace(/^#/, '')).get('tab') ?? undefined;
}

/** The hash's `run=` entry (a run for the Runs tab to show), if any. */
export function runFromHash(hash: string): string | undefined {
  return new URLSearchParams(hash.replace(/^#/, '')).get('run') ?? undefined;
}

/** A link to one run in the Runs tab (what every place that names a run links to). */
export function runHash(runId: string): string {
  return `#tab=runs&run=${encodeURIComponent(runId)}`;
}

export function hashFor(
  tab: string,
  settings: RunSettings,
  dataset: LinkDataset,
  run?: string,
): string {
  const rest = encodeSettings(settings, dataset);
  const runPart = run ? `&run=${encodeURIComponent(run)}` : '';
  return `#tab=${tab}${runPart}${rest ? `&${rest}` : ''}`;
}
