/**
 * The next run's configuration, bound to RunSettings. Each change is validated at once
 * (validateSettings: the same checks the trainer makes) and written to the URL, so the page
 * address reproduces the configuration; "Copy link" puts it on the clipboard.
 */
import { useMemo, useState } from 'react';
import { parameterCount, PRESETS, type PresetName } from '../model/config';
import { ORDERINGS, type Ordering } from '../model/orderings';
import { modelConfigFor, validateSettings } from '../training/settings';
import { DatasetPicker } from './DatasetPicker';
import { formatCount } from '../util/format';
import { NumberField } from './NumberField';
import { settingsProblems, useSettings } from './settingsStore';

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
  const datasetKind = useSettings((s) => s.datasetKind);
  const userDataset = useSettings((s) => s.userDataset);
  const problems = useMemo(
    () => settingsProblems({ settings, datasetKind, userDataset }),
    [settings, datasetKind, userDataset],
  );
  const [copied, setCopied] = useState<string>();
  const config = modelConfigFor(settings);
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
          <label htmlFor="preset">Model preset</label>
          <select
            id="preset"
            data-testid="preset"
            value={settings.preset}
            onChange={(e) => setPreset(e.target.value as PresetName)}
          >
            {(Object.keys(PRESETS) as PresetName[]).map((p) => (
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
        </div>
      </fieldset>
      <DatasetPicker disabled={locked} />
      <fieldset disabled={locked} className="plain">
        {showOrdering && (
          <div className="field">
            <label htmlFor="ordering">Patch ordering</label>
            <select
              id="ordering"
              data-testid="ordering"
              value={settings.ordering}
              onChange={(e) => set('ordering', e.target.value as Ordering)}
            >
              {ORDERINGS.map((o) => (
                <option key={o} value={o}>
                  {o} — {ORDERING_NOTES[o]}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field-grid">
          <NumberField
            label="Batch"
            value={settings.batch}
            onChange={(v) => set('batch', v)}
            testId="batch"
          />
          <NumberField
            label="Steps"
            value={settings.steps}
            onChange={(v) => set('steps', v)}
            testId="steps"
          />
          <NumberField
            label="Learning rate"
            value={settings.lr}
            onChange={(v) => set('lr', v)}
            testId="lr"
          />
          <NumberField
            label="Warm-up fraction"
            value={settings.warmupFraction}
            onChange={(v) => set('warmupFraction', v)}
            testId="warmup"
          />
          <NumberField
            label="Head depth"
            value={settings.headDepth}
            onChange={(v) => set('headDepth', v)}
            testId="head-depth"
          />
          <NumberField
            label="Crop scale (min)"
            value={settings.cropScaleMin}
            onChange={(v) => set('cropScaleMin', v)}
            testId="crop-scale"
          />
          <NumberField
            label="Seed"
            value={settings.seed}
            onChange={(v) => set('seed', v)}
            testId="seed"
          />
        </div>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={settings.prefix}
            onChange={(e) => set('prefix', e.target.checked)}
            data-testid="prefix"
          />
          Prefix attention (off: the causal baseline)
        </label>
        <details className="advanced">
          <summary>More settings</summary>
          <div className="field-grid">
            <NumberField
              label="Weight decay"
              value={settings.weightDecay}
              onChange={(v) => set('weightDecay', v)}
            />
            <NumberField
              label="Clip norm"
              value={settings.clipNorm}
              onChange={(v) => set('clipNorm', v)}
            />
            <NumberField
              label="Evaluate every"
              value={settings.evalEvery}
              onChange={(v) => set('evalEvery', v)}
              testId="eval-every"
            />
            <NumberField
              label="Eval images"
              value={settings.evalImages}
              onChange={(v) => set('evalImages', v)}
              testId="eval-images"
            />
            <NumberField
              label="Loss chunks"
              value={settings.chunks}
              onChange={(v) => set('chunks', v)}
              testId="chunks"
            />
            <NumberField
              label="Checkpoint every"
              value={settings.checkpointEvery}
              onChange={(v) => set('checkpointEvery', v)}
              hint="steps; 0: only at the end"
              testId="checkpoint-every"
            />
          </div>
          <label className="checkbox">
            <input
              type="checkbox"
              checked={settings.colorJitter}
              onChange={(e) => set('colorJitter', e.target.checked)}
            />
            Colour jitter
          </label>
          <label className="checkbox">
            <input
              type="checkbox"
              checked={settings.headExtraNormTerm}
              onChange={(e) => set('headExtraNormTerm', e.target.checked)}
            />
            ml-l3m head (extra x + LN(x) term)
          </label>
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
        <details className="muted">
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
