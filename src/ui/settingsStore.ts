/**
 * The settings panel's state: the next run's RunSettings and dataset, read from the URL on
 * load and written back to it (history.replaceState) on every change, so the address bar is
 * always a link that reproduces this configuration.
 */
import { create } from 'zustand';
import type { GpuCapabilities } from '../gpu/capabilities';
import { PRESETS, type PresetName } from '../model/config';
import {
  PRESET_FOLLOWERS,
  settingNoun,
  validateSettings,
  withPreset,
  type RunSettings,
} from '../training/settings';
import { workerApi } from '../worker/client';
import type { DatasetChoice, DatasetSummary, UserDataInput } from '../worker/protocol';
import { serializeError, type SerializedError } from '../worker/protocol';
import { adapterFitProblems } from './adapterFit';
import { decodeSettings, hashFor, runFromHash, tabFromHash, type LinkDataset } from './urlSettings';

export const TABS = ['train', 'compare', 'paper', 'runs', 'inference', 'gpu'] as const;
export type Tab = (typeof TABS)[number];

interface SettingsState {
  settings: RunSettings;
  datasetKind: LinkDataset;
  /** The user's own dataset, once loaded into the worker. */
  userDataset?: DatasetSummary;
  userLoading: boolean;
  userError?: SerializedError;
  /** Parts of the link that were not understood. */
  linkProblems: string[];
  /** What the last preset change set for the user (settings that follow the preset). */
  presetNote?: string;
  tab: Tab;
  /** The run the Runs tab shows (a link's `run=`); kept in the address while on that tab. */
  focusRun?: string;
  set: <K extends keyof RunSettings>(key: K, value: RunSettings[K]) => void;
  setPreset: (preset: PresetName) => void;
  setAll: (settings: RunSettings, dataset: DatasetChoice) => void;
  setDatasetKind: (kind: LinkDataset) => void;
  setTab: (tab: Tab) => void;
  /** Opens the Runs tab on one run (what a run's link does). */
  showRun: (runId: string) => void;
  loadUserFiles: (input: UserDataInput) => Promise<void>;
}

function initial(): Pick<
  SettingsState,
  'settings' | 'datasetKind' | 'linkProblems' | 'tab' | 'focusRun'
> {
  const { settings, dataset, ignored } = decodeSettings(location.hash);
  const t = tabFromHash(location.hash);
  const known = (TABS as readonly string[]).includes(t ?? '');
  const tab = known ? (t as Tab) : 'train';
  const problems = [...ignored];
  if (t !== undefined && !known)
    problems.push(`There is no “${t}” view (tab=${t}); the Train view is shown instead.`);
  // Settings live after the #; a query string is never read, so say so rather than ignore it.
  if (location.search)
    problems.push(
      `The part of the address after ? (${location.search}) is not read: settings go after #, as in #preset=aim-micro.`,
    );
  // A link cannot carry the user's files: fall back to the embedded data and say so.
  if (dataset === 'user')
    problems.push(
      'This link used the sender’s own image files; the embedded dataset is selected instead.',
    );
  return {
    settings,
    datasetKind: dataset === 'user' ? 'fashion-mnist' : dataset,
    linkProblems: problems,
    tab,
    focusRun: tab === 'runs' ? runFromHash(location.hash) : undefined,
  };
}

function writeUrl(s: SettingsState): void {
  const hash = hashFor(s.tab, s.settings, s.datasetKind, s.tab === 'runs' ? s.focusRun : undefined);
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

export const useSettings = create<SettingsState>((set, get) => ({
  ...initial(),
  userLoading: false,

  set: (key, value) => {
    set((s) => ({ settings: { ...s.settings, [key]: value }, presetNote: undefined }));
    writeUrl(get());
  },
  setPreset: (preset) => {
    // The head depth follows the preset unless the user changes it afterwards; say so rather
    // than change a value silently.
    set((s) => {
      const settings = withPreset(s.settings, preset);
      const changed = PRESET_FOLLOWERS.filter((key) => settings[key] !== s.settings[key]).map(
        (key) => `${settingNoun(key)} ${String(settings[key])} (was ${String(s.settings[key])})`,
      );
      const presetNote = changed.length
        ? `${preset} sets its own ${changed.join(', ')}.`
        : undefined;
      return { settings, presetNote };
    });
    writeUrl(get());
  },
  setAll: (settings, dataset) => {
    set({
      settings: { ...settings },
      datasetKind: dataset.kind === 'user' ? 'user' : dataset.kind,
    });
    writeUrl(get());
  },
  setDatasetKind: (kind) => {
    set({ datasetKind: kind });
    writeUrl(get());
  },
  setTab: (tab) => {
    set({ tab });
    writeUrl(get());
  },
  showRun: (runId) => {
    set({ tab: 'runs', focusRun: runId });
    writeUrl(get());
  },
  loadUserFiles: async (input) => {
    set({ userLoading: true, userError: undefined });
    try {
      const summary = await workerApi().loadUserDataset(input);
      set({ userDataset: summary, datasetKind: 'user' });
      writeUrl(get());
    } catch (error) {
      set({ userError: serializeError(error) });
    } finally {
      set({ userLoading: false });
    }
  },
}));

/** The worker's dataset choice for the current settings. */
export function datasetChoice(
  s: Pick<SettingsState, 'datasetKind' | 'userDataset' | 'settings'>,
): DatasetChoice | undefined {
  if (s.datasetKind === 'user') return s.userDataset && { kind: 'user', id: s.userDataset.id };
  if (s.datasetKind === 'procedural')
    return { kind: 'procedural', size: PRESETS[s.settings.preset].imageSize };
  return { kind: 'fashion-mnist' };
}

/** Everything that stops the current settings from running, as sentences. */
export function settingsProblems(
  s: Pick<SettingsState, 'datasetKind' | 'userDataset' | 'settings'>,
  limits?: GpuCapabilities['limits'],
): string[] {
  const problems = validateSettings(s.settings);
  if (limits) problems.push(...adapterFitProblems(s.settings, limits));
  if (s.datasetKind === 'user' && !s.userDataset)
    problems.push('Choose your image folder, .zip or CIFAR-10 files first.');
  return problems;
}
