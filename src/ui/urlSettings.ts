/**
 * Settings ⇄ URL, as TensorFlow Playground does: every setting that differs from the
 * default goes into the hash (`#preset=aim-micro&lr=0.0005&data=procedural`), so a copied
 * link opens the page with the same configuration and seed. Unknown keys and values that do
 * not parse are ignored (and reported), never thrown: a hand-edited link must not break the page.
 */
import { PRESETS, type PresetName } from '../model/config';
import { ORDERINGS, type Ordering } from '../model/orderings';
import { DEFAULT_SETTINGS, type RunSettings } from '../training/settings';

/** The datasets a link can name (a user's own files cannot travel in a URL). */
export type LinkDataset = 'fashion-mnist' | 'procedural' | 'user';
export const LINK_DATASETS: readonly LinkDataset[] = ['fashion-mnist', 'procedural', 'user'];

export interface LinkState {
  settings: RunSettings;
  dataset: LinkDataset;
  /** Parameters that were present but not understood, as sentences. */
  ignored: string[];
}

type Kind = 'number' | 'boolean' | 'preset' | 'ordering';

const KINDS: Record<keyof RunSettings, Kind> = {
  preset: 'preset',
  ordering: 'ordering',
  steps: 'number',
  batch: 'number',
  lr: 'number',
  warmupFraction: 'number',
  weightDecay: 'number',
  clipNorm: 'number',
  prefix: 'boolean',
  cropScaleMin: 'number',
  colorJitter: 'boolean',
  headDepth: 'number',
  headExtraNormTerm: 'boolean',
  seed: 'number',
  evalEvery: 'number',
  evalImages: 'number',
  chunks: 'number',
  checkpointEvery: 'number',
};

export const SETTING_KEYS = Object.keys(KINDS) as (keyof RunSettings)[];

/** The defaults a link is relative to: the preset's own head depth follows the preset. */
export function defaultsFor(preset: PresetName): RunSettings {
  return { ...DEFAULT_SETTINGS, preset, headDepth: PRESETS[preset].head.depth };
}

export function encodeSettings(settings: RunSettings, dataset: LinkDataset): string {
  const defaults = defaultsFor(settings.preset);
  const params = new URLSearchParams();
  if (settings.preset !== DEFAULT_SETTINGS.preset) params.set('preset', settings.preset);
  for (const key of SETTING_KEYS) {
    if (key === 'preset' || settings[key] === defaults[key]) continue;
    const value = settings[key];
    params.set(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  if (dataset !== 'fashion-mnist') params.set('data', dataset);
  return params.toString();
}

export function decodeSettings(query: string): LinkState {
  const params = new URLSearchParams(query.replace(/^[#?]/, ''));
  const ignored: string[] = [];
  const presetParam = params.get('preset');
  let preset = DEFAULT_SETTINGS.preset;
  if (presetParam !== null) {
    if (presetParam in PRESETS) preset = presetParam as PresetName;
    else ignored.push(`Unknown preset "${presetParam}".`);
  }
  const settings: RunSettings = defaultsFor(preset);
  let dataset: LinkDataset = 'fashion-mnist';
  for (const [key, raw] of params) {
    if (key === 'preset' || key === 'tab') continue;
    if (key === 'data') {
      if ((LINK_DATASETS as readonly string[]).includes(raw)) dataset = raw as LinkDataset;
      else ignored.push(`Unknown dataset "${raw}".`);
      continue;
    }
    const kind = KINDS[key as keyof RunSettings];
    if (!kind) {
      ignored.push(`Unknown setting "${key}".`);
      continue;
    }
    const target = settings as unknown as Record<string, unknown>;
    if (kind === 'number') {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value))
        ignored.push(`${key}=${raw} is not a number.`);
      else target[key] = value;
    } else if (kind === 'boolean') {
      if (raw === '1' || raw === 'true') target[key] = true;
      else if (raw === '0' || raw === 'false') target[key] = false;
      else ignored.push(`${key}=${raw} is not 0 or 1.`);
    } else if (kind === 'ordering') {
      if ((ORDERINGS as readonly string[]).includes(raw)) target[key] = raw as Ordering;
      else ignored.push(`Unknown ordering "${raw}".`);
    }
  }
  return { settings, dataset, ignored };
}

/** The hash's `tab=` entry (the view to open), if any. */
export function tabFromHash(hash: string): string | undefined {
  return new URLSearchParams(hash.replace(/^#/, '')).get('tab') ?? undefined;
}

export function hashFor(tab: string, settings: RunSettings, dataset: LinkDataset): string {
  const rest = encodeSettings(settings, dataset);
  return `#tab=${tab}${rest ? `&${rest}` : ''}`;
}
