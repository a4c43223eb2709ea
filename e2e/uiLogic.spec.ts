import { expect, test } from '@playwright/test';
import { DEFAULT_SETTINGS, defaultsFor } from '../src/training/settings';
import { alignSeries, toCsv } from '../src/ui/charts/chartData';
import {
  configDifferences,
  mergeImportedRuns,
  parseRunsExport,
  uniqueRunName,
  type RunRecord,
} from '../src/ui/runRecords';
import { debiasedEma } from '../src/ui/smoothing';
import { decodeSettings, encodeSettings } from '../src/ui/urlSettings';

// The UI's pure logic, run in the test's Node process (no browser): smoothing, the link codec,
// chart columns and CSV, the runs table's differences and the import validation.

/** A finished run record with the default settings but for `change`. */
const run = (id: string, change: Partial<RunRecord['settings']>): RunRecord => ({
  id,
  name: id,
  createdAt: 0,
  colour: '#000000',
  settings: { ...DEFAULT_SETTINGS, ...change },
  dataset: { kind: 'fashion-mnist' },
  phase: 'finished',
  step: 1,
  metrics: [],
  evals: [],
});

test('de-biased EMA matches TensorBoard’s formula and skips non-finite values', () => {
  const w = 0.6;
  const ys = [4, 2, NaN, 1];
  // s1 = 0.4·4 = 1.6 → /(1−0.6) = 4; s2 = 0.6·1.6 + 0.4·2 = 1.76 → /(1−0.36) = 2.75;
  // NaN keeps 2.75; s3 = 0.6·1.76 + 0.4·1 = 1.456 → /(1−0.216) = 1.857142…
  const out = debiasedEma(ys, w);
  expect(out[0]).toBeCloseTo(4, 12);
  expect(out[1]).toBeCloseTo(2.75, 12);
  expect(out[2]).toBeCloseTo(2.75, 12);
  expect(out[3]).toBeCloseTo(1.456 / 0.784, 12);
  expect(debiasedEma([3, 5], 0)).toEqual([3, 5]);
  // Without the de-biasing the first point would be 1.6: the check can fail.
  expect(Math.abs(out[0] - 0.4 * 4)).toBeGreaterThan(1);
  expect(() => debiasedEma([1], 1)).toThrow(RangeError);
});

test('a link encodes only what differs from the defaults and decodes back to it', () => {
  const settings = {
    ...defaultsFor('aim-micro'), // aim-micro's own shape (head and trunk): not written
    lr: 3e-4,
    prefix: false,
    ordering: 'spiral' as const,
    seed: 42,
  };
  const query = encodeSettings(settings, 'procedural');
  expect(query).toBe('preset=aim-micro&ordering=spiral&lr=0.0003&prefix=0&seed=42&data=procedural');
  const back = decodeSettings(`#tab=train&${query}`);
  expect(back.settings).toEqual(settings);
  expect(back.dataset).toBe('procedural');
  expect(back.ignored).toEqual([]);
  expect(encodeSettings(DEFAULT_SETTINGS, 'fashion-mnist')).toBe('');

  const bad = decodeSettings('?lr=abc&ordering=zigzag&nope=1&steps=50');
  expect(bad.settings.lr).toBe(DEFAULT_SETTINGS.lr);
  expect(bad.settings.ordering).toBe(DEFAULT_SETTINGS.ordering);
  expect(bad.settings.steps).toBe(50);
  expect(bad.ignored).toHaveLength(3);
});

test('chart columns align series on the union of their x and export as CSV', () => {
  const { x, ys } = alignSeries([
    { x: [1, 2, 3], y: [1, 2, NaN] },
    { x: [2, 4], y: [5, 6] },
  ]);
  expect(x).toEqual([1, 2, 3, 4]);
  expect(ys).toEqual([
    [1, 2, null, null],
    [null, 5, null, 6],
  ]);
  const csv = toCsv('step', x, [
    { label: 'a, raw', values: ys[0] },
    { label: 'b', values: ys[1] },
  ]);
  expect(csv).toBe('step,"a, raw",b\n1,1,\n2,2,5\n3,,\n4,,6\n');
});

test('the runs table lists only the settings in which runs differ; imports are checked', () => {
  const diffs = configDifferences([run('a', { lr: 1e-3 }), run('b', { lr: 5e-4, batch: 32 })]);
  expect(diffs.get('a')).toEqual(['batch=64', 'lr=0.001']);
  expect(diffs.get('b')).toEqual(['batch=32', 'lr=0.0005']);
  expect(configDifferences([run('only', {})]).get('only')).toEqual([]);

  expect(() => parseRunsExport('not json')).toThrow(/not JSON/);
  expect(() => parseRunsExport('{"format":"other"}')).toThrow(/not an AIM Playground/);
  const running = { ...run('r', {}), phase: 'running' };
  const [imported] = parseRunsExport(
    JSON.stringify({ format: 'aim-playground-runs', version: 1, runs: [running] }),
  );
  // A run imported from elsewhere cannot be running here.
  expect(imported.phase).toBe('stopped');
});

test('re-importing a run is one row, the further copy wins; default names do not repeat', () => {
  const base = (id: string, step: number, extra: Partial<RunRecord> = {}): RunRecord => ({
    id,
    name: 'aim-micro · raster · seed 0',
    createdAt: 1000,
    colour: '#000000',
    settings: { ...DEFAULT_SETTINGS },
    dataset: { kind: 'fashion-mnist' },
    phase: 'stopped',
    step,
    metrics: [],
    evals: [],
    ...extra,
  });
  // The kept run went on after it was exported: importing the old export changes nothing.
  const kept = { a: base('a', 30) };
  let merged = mergeImportedRuns(kept, [base('a', 7)]);
  expect(merged.changed).toBe(0);
  expect(Object.keys(merged.records)).toEqual(['a']);
  expect(merged.records.a.step).toBe(30);
  // A copy that got further (trained elsewhere) replaces it, still one row.
  merged = mergeImportedRuns(kept, [base('a', 40)]);
  expect(merged.changed).toBe(1);
  expect(Object.keys(merged.records)).toEqual(['a']);
  expect(merged.records.a.step).toBe(40);
  // A run going on here is never replaced.
  merged = mergeImportedRuns({ a: base('a', 5, { phase: 'running' }) }, [base('a', 40)]);
  expect(merged.records.a.phase).toBe('running');
  // Another run that shares the id (created at another time) is kept beside it.
  merged = mergeImportedRuns(kept, [base('a', 3, { createdAt: 2000 })]);
  expect(Object.keys(merged.records).sort()).toEqual(['a', 'a-imported-1']);

  expect(uniqueRunName('x', {})).toBe('x');
  expect(uniqueRunName('aim-micro · raster · seed 0', kept)).toBe(
    'aim-micro · raster · seed 0 (2)',
  );
  const two = { ...kept, b: base('b', 1, { name: 'aim-micro · raster · seed 0 (2)' }) };
  expect(uniqueRunName('aim-micro · raster · seed 0', two)).toBe('aim-micro · raster · seed 0 (3)');
});

test('how often a run was evaluated or checkpointed is not what it "differs in"', () => {
  const diffs = configDifferences([
    run('a', { evalImages: 64, checkpointEvery: 10, evalEvery: 5 }),
    run('b', { evalImages: 512, checkpointEvery: 200, evalEvery: 100, seed: 3 }),
  ]);
  expect(diffs.get('a')).toEqual(['seed=0']);
  expect(diffs.get('b')).toEqual(['seed=3']);
});
