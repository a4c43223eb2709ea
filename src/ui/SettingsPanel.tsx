/**
 * The next run's configuration, bound to RunSettings and drawn from the settings' schema
 * (src/training/settingsSchema.ts): each number and on/off setting is a field of its panel
 * group, with the schema's label, tooltip and test id. Each change is validated at once
 * (validateSettings: the same checks the trainer makes; a field out of bounds is marked
 * aria-invalid) and written to the URL, so the page address reproduces the configuration;
 * "Copy link" puts it on the clipboard.
 */
import { useMemo, useState } from 'react';
import { usePlayground } from './store';
import { parameterCount, PRESETS, type PresetName } from '../model/config';
import type { Ordering } from '../model/orderings';
import {
  customModelChanges,
  fieldProblems,
  modelConfigFor,
  SETTING_KEYS,
  SETTINGS_SCHEMA,
  validateSettings,
  type RunSettings,
} from '../training/settings';
import {
  settingSpec,
  type BooleanKey,
  type NumberKey,
  type PanelGroup,
  type SettingKey,
} from '../training/settingsSchema';
import { DatasetPicker } from './DatasetPicker';
import { formatCount } from '../util/format';
import { NumberField } from './NumberField';
import { HelpRow, settingHelpText } from './SettingHelp';
import { settingsProblems, useSettings } from './settingsStore';

type ChoiceKey = Exclude<SettingKey, NumberKey | BooleanKey>;

/** The choice, number and on/off settings of a panel group, in schema order. */
function groupKeys(group: PanelGroup): {
  choices: ChoiceKey[];
  numbers: NumberKey[];
  booleans: BooleanKey[];
} {
  const keys = SETTING_KEYS.filter((key) => settingSpec(key).panel === group);
  return {
    choices: keys.filter((key) => settingSpec(key).kind === 'choice') as ChoiceKey[],
    numbers: keys.filter((key) => settingSpec(key).kind === 'number') as NumberKey[],
    booleans: keys.filter((key) => settingSpec(key).kind === 'boolean') as BooleanKey[],
  };
}

/** A choice setting as a labelled select: each value, with the schema's note on it. */
function ChoiceField({
  settingKey,
  value,
  problem,
  onChange,
}: {
  settingKey: ChoiceKey;
  value: string;
  problem?: string;
  onChange: (v: string) => void;
}) {
  const spec = settingSpec(settingKey);
  if (spec.kind !== 'choice') return null;
  const id = `setting-${settingKey}`;
  // A whole row of the grid: the options say what each value is, which half a row cuts off.
  return (
    <div className="field" style={{ gridColumn: '1 / -1' }}>
      <HelpRow label={spec.label} text={settingHelpText(settingKey)} testId={spec.testId}>
        <label htmlFor={id}>{spec.label}</label>
      </HelpRow>
      <select
        id={id}
        data-testid={spec.testId}
        title={problem ?? spec.help}
        aria-invalid={problem !== undefined}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      >
        {spec.choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
      {/* What the chosen value is, under the select: inside an option a phone cut it. */}
      {spec.choiceNotes?.[value] && (
        <small className="muted" data-testid={`${spec.testId}-note`}>
          {spec.choiceNotes[value]}
        </small>
      )}
    </div>
  );
}

const MAIN = groupKeys('main');
const MORE = groupKeys('more');

/** The fields of one panel group: its numbers in a grid, then its on/off settings. */
function SettingFields({
  keys,
  settings,
  problems,
  set,
}: {
  keys: ReturnType<typeof groupKeys>;
  settings: RunSettings;
  problems: ReturnType<typeof fieldProblems>;
  set: <K extends keyof RunSettings>(key: K, value: RunSettings[K]) => void;
}) {
  return (
    <>
      <div className="field-grid">
        {keys.choices.map((key) => (
          <ChoiceField
            key={key}
            settingKey={key}
            value={settings[key]}
            problem={problems[key]}
            // (The select offers only the schema's choices.)
            onChange={(v) => set(key, v as RunSettings[typeof key])}
          />
        ))}
        {keys.numbers.map((key) => {
          const spec = SETTINGS_SCHEMA[key];
          return (
            <NumberField
              key={key}
              label={spec.label}
              value={settings[key]}
              onChange={(v) => set(key, v)}
              hint={'hint' in spec ? spec.hint : undefined}
              help={settingHelpText(key)}
              problem={problems[key]}
              testId={spec.testId}
            />
          );
        })}
      </div>
      {keys.booleans.map((key) => {
        const spec = SETTINGS_SCHEMA[key];
        return (
          <HelpRow key={key} label={spec.label} text={settingHelpText(key)} testId={spec.testId}>
            <label className="checkbox" title={spec.help}>
              <input
                type="checkbox"
                checked={settings[key]}
                onChange={(e) => set(key, e.target.checked)}
                data-testid={spec.testId}
              />
              {spec.label}
            </label>
          </HelpRow>
        );
      })}
    </>
  );
}

const ORDERING_NOTES: Record<Ordering, string> = {
  raster: 'row by row, left to right (the paper’s default)',
  spiral: 'from the centre outwards',
  checkerboard: 'every other patch, then the rest',
  random: 'one fixed random permutation',
};

export function SettingsPanel({
  locked,
  showOrdering = true,
}: {
  locked: boolean;
  showOrdering?: boolean;
}) {
  const settings = useSettings((s) => s.settings);
  const set = useSettings((s) => s.set);
  const setPreset = useSettings((s) => s.setPreset);
  const linkProblems = useSettings((s) => s.linkProblems);
  const presetNote = useSettings((s) => s.presetNote);
  const datasetKind = useSettings((s) => s.datasetKind);
  const userDataset = useSettings((s) => s.userDataset);
  const limits = usePlayground((s) => s.capabilities?.limits);
  const problems = useMemo(
    () => settingsProblems({ settings, datasetKind, userDataset }, limits),
    [settings, datasetKind, userDataset, limits],
  );
  const fields = useMemo(() => fieldProblems(settings), [settings]);
  const [copied, setCopied] = useState<string>();
  const config = modelConfigFor(settings);
  const customChanges = customModelChanges(settings);
  const params = validateSettings(settings).length === 0 ? parameterCount(config).total : undefined;

  const copyLink = async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      setCopied('Link copied: it opens this page with these settings and seed.');
    } catch {
      setCopied('Copy the address bar: it holds these settings and seed.');
    }
  };

  return (
    <section className="panel settings" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      {locked && (
        <p className="muted" role="status">
          Settings are fixed while a run is going; stop it to change them.
        </p>
      )}
      <fieldset disabled={locked} className="plain">
        <div className="field">
          <HelpRow
            label={SETTINGS_SCHEMA.preset.label}
            text={settingHelpText('preset')}
            testId={SETTINGS_SCHEMA.preset.testId}
          >
            <label htmlFor="preset">{SETTINGS_SCHEMA.preset.label}</label>
          </HelpRow>
          <select
            id="preset"
            data-testid={SETTINGS_SCHEMA.preset.testId}
            title={SETTINGS_SCHEMA.preset.help}
            value={settings.preset}
            onChange={(e) => setPreset(e.target.value as PresetName)}
          >
            {SETTINGS_SCHEMA.preset.choices.map((p) => (
              <option key={p} value={p} disabled={PRESETS[p].inferenceOnly}>
                {p} · {PRESETS[p].imageSize}px/{PRESETS[p].patchSize} ·{' '}
                {formatCount(parameterCount(PRESETS[p]).total)} params
                {PRESETS[p].inferenceOnly ? ' (too large for a tab)' : ''}
              </option>
            ))}
          </select>
          <small className="muted">
            {config.imageSize}×{config.imageSize} images, {config.patchSize}px patches (
            {(config.imageSize / config.patchSize) ** 2} per image), width {config.width}, depth{' '}
            {config.depth}
            {params !== undefined && <>, {formatCount(params)} parameters</>}
          </small>
          {customChanges.length > 0 && (
            <small className="muted" data-testid="custom-model">
              Custom {settings.preset}: {customChanges.join(', ')}. Choosing a preset restores its
              shape.
            </small>
          )}
          {presetNote && (
            <small className="notice-inline" role="status" data-testid="preset-note">
              {presetNote}
            </small>
          )}
        </div>
      </fieldset>
      <DatasetPicker disabled={locked} />
      <fieldset disabled={locked} className="plain">
        {showOrdering && (
          <div className="field">
            <HelpRow
              label={SETTINGS_SCHEMA.ordering.label}
              text={settingHelpText('ordering')}
              testId={SETTINGS_SCHEMA.ordering.testId}
            >
              <label htmlFor="ordering">{SETTINGS_SCHEMA.ordering.label}</label>
            </HelpRow>
            <select
              id="ordering"
              data-testid={SETTINGS_SCHEMA.ordering.testId}
              title={SETTINGS_SCHEMA.ordering.help}
              value={settings.ordering}
              onChange={(e) => set('ordering', e.target.value as Ordering)}
            >
              {SETTINGS_SCHEMA.ordering.choices.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
            {/* The note under the select, not in the option: a narrow select cut it mid-word. */}
            <small className="muted" data-testid="ordering-note">
              {ORDERING_NOTES[settings.ordering]}
            </small>
          </div>
        )}
        <SettingFields keys={MAIN} settings={settings} problems={fields} set={set} />
        <details className="advanced">
          <summary>More settings</summary>
          <SettingFields keys={MORE} settings={settings} problems={fields} set={set} />
        </details>
      </fieldset>
      {problems.length > 0 && (
        <ul className="problems" data-testid="settings-problems" aria-live="polite">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {linkProblems.length > 0 && (
        <details className="muted" open data-testid="link-problems">
          <summary>Parts of the link were not understood</summary>
          <ul>
            {linkProblems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </details>
      )}
      <p className="link-row">
        <button type="button" className="secondary" onClick={() => void copyLink()}>
          Copy link to these settings
        </button>
        <span role="status" className="muted">
          {copied}
        </span>
      </p>
    </section>
  );
}
