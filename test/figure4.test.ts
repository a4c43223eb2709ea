/**
 * Loss beside accuracy (the paper's Figure 4) without a GPU: the "Probe every" and "Probe
 * images" settings (bounds, the address, the step cadence, the scale-out coverage), a run's
 * probe history (one point per step, trimmed on resume, kept through an export), the
 * cross-run scatter's points and correlation, and the data a run can be probed on.
 */
import { describe, expect, it } from 'vitest';
import { makeProceduralDataset } from '../src/data/procedural';
import {
  isProbePoint,
  pearson,
  probesUpTo,
  scatterPoints,
  withProbePoint,
  type ProbePoint,
} from '../src/paper/figure4Points';
import { FIGURE4_PROBE_RECIPE, probeDataProblem, RunProber } from '../src/paper/figure4Probe';
import { PROBE_RECIPE } from '../src/probe/recipe';
import { coverageOf } from '../src/scaleout/fromRun';
import {
  afterStep,
  DEFAULT_SETTINGS,
  defaultsFor,
  fieldProblems,
  validateSettings,
  type RunSettings,
} from '../src/training/settings';
import { exportRuns, parseRunsExport, type RunRecord } from '../src/ui/runRecords';
import { activityProgress } from '../src/ui/stepActivity';
import { decodeSettings, encodeSettings } from '../src/ui/urlSettings';

function point(step: number, overrides: Partial<ProbePoint> = {}): ProbePoint {
  return {
    step,
    valLoss: 1 / step,
    linear: 10 + step,
    attentive: 20 + step,
    linearTrain: 30,
    attentiveTrain: 40,
    trainImages: 256,
    heldOutImages: 64,
    layers: 1,
    epochs: 5,
    seconds: 2,
    ...overrides,
  };
}

const settings = (o: Partial<RunSettings>): RunSettings => ({ ...defaultsFor('aim-micro'), ...o });

describe('the probe settings', () => {
  it('default to off, with 256 probe images', () => {
    expect(DEFAULT_SETTINGS.probeEvery).toBe(0);
    expect(DEFAULT_SETTINGS.probeImages).toBe(256);
    expect(validateSettings(settings({}))).toEqual([]);
  });

  it('are bounded before a run starts', () => {
    expect(fieldProblems(settings({ probeEvery: -1 })).probeEvery).toMatch(
      /probe interval must be a whole number from 0 to 1,000,000/,
    );
    expect(fieldProblems(settings({ probeEvery: 2.5 })).probeEvery).toBeDefined();
    expect(fieldProblems(settings({ probeEvery: 1_000_001 })).probeEvery).toBeDefined();
    expect(fieldProblems(settings({ probeEvery: 1 })).probeEvery).toBeUndefined();
    expect(fieldProblems(settings({ probeImages: 1 })).probeImages).toMatch(
      /number of probe images must be a whole number from 2 to 10,000/,
    );
    expect(fieldProblems(settings({ probeImages: 10_001 })).probeImages).toBeDefined();
    expect(fieldProblems(settings({ probeImages: NaN })).probeImages).toBeDefined();
    expect(validateSettings(settings({ probeEvery: -3 }))).toHaveLength(1);
  });

  it('travel in the address and come back', () => {
    const s = settings({ probeEvery: 25, probeImages: 64 });
    const query = encodeSettings(s, 'procedural');
    expect(query).toContain('probeEvery=25');
    expect(query).toContain('probeImages=64');
    const back = decodeSettings(query);
    expect(back.ignored).toEqual([]);
    expect(back.settings.probeEvery).toBe(25);
    expect(back.settings.probeImages).toBe(64);
    // Off is the default: the address does not name it.
    expect(encodeSettings(settings({}), 'procedural')).not.toContain('probeEvery');
  });

  it('probe every N steps and at the last, and evaluate wherever they probe', () => {
    const s = { evalEvery: 100, checkpointEvery: 0, probeEvery: 3 };
    const probed = [1, 2, 3, 4, 5, 6, 7].filter((step) => afterStep(s, step, step === 7).probe);
    expect(probed).toEqual([3, 6, 7]);
    for (const step of probed) expect(afterStep(s, step, step === 7).evaluate).toBe(true);
    expect(afterStep(s, 4, false).evaluate).toBe(false);
    // Off (0), and a record from before the setting existed (no probeEvery): never.
    expect(afterStep({ ...s, probeEvery: 0 }, 3, true).probe).toBe(false);
    expect(afterStep({ evalEvery: 100, checkpointEvery: 0 }, 100, true)).toEqual({
      evaluate: true,
      checkpoint: true,
      probe: false,
    });
  });

  it('say why they do not carry over to ml-l3m when the run probed', () => {
    expect(coverageOf(settings({ probeEvery: 0 }), false).probeEvery.carried).toBeTruthy();
    const on = coverageOf(settings({ probeEvery: 10 }), false);
    expect(on.probeEvery.notCarried).toMatch(/does not probe/);
    expect(on.probeImages.notCarried).toMatch(/does not probe/);
  });
});

describe('a run’s probe history', () => {
  it('keeps one point per step, in step order; a step probed again replaces its point', () => {
    let h = withProbePoint(undefined, point(4));
    h = withProbePoint(h, point(2));
    h = withProbePoint(h, point(6));
    expect(h.map((p) => p.step)).toEqual([2, 4, 6]);
    h = withProbePoint(h, point(4, { linear: 99 }));
    expect(h.map((p) => [p.step, p.linear])).toEqual([
      [2, 12],
      [4, 99],
      [6, 16],
    ]);
  });

  it('says, while the probes train, that training waits', () => {
    const shown = activityProgress(
      { phase: 'running', metrics: [], activity: { kind: 'probe', step: 4, since: 0 } },
      12_000,
    );
    expect(shown?.text).toMatch(/^Probing \(training waits\) the trunk of step 4: /);
    expect(shown?.fraction).toBeUndefined();
  });

  it('drops the points after the checkpoint a run resumes from', () => {
    const h = [point(2), point(4), point(6)];
    expect(probesUpTo(h, 4)!.map((p) => p.step)).toEqual([2, 4]);
    expect(probesUpTo(h, 1)).toEqual([]);
    expect(probesUpTo(undefined, 4)).toBeUndefined();
  });

  it('survives an export and an import; malformed points are dropped', () => {
    const record = {
      id: 'run-a',
      name: 'a',
      createdAt: 1,
      colour: '#000000',
      settings: settings({ probeEvery: 2 }),
      dataset: { kind: 'procedural' },
      phase: 'finished',
      step: 4,
      metrics: [],
      evals: [],
      probes: [point(2), { step: 4, valLoss: 'x' }, point(4)],
      probing: { step: 4, message: 'probe epoch 1 of 5' },
    } as unknown as RunRecord;
    const [back] = parseRunsExport(JSON.stringify(exportRuns([record])));
    expect(back.probes!.map((p) => p.step)).toEqual([2, 4]);
    expect(back.probing).toBeUndefined();
    expect(isProbePoint({ step: 1, valLoss: 1, linear: NaN, attentive: 1 })).toBe(false);
    // A run exported before probing existed reads as one that never probed.
    const [old] = parseRunsExport(
      JSON.stringify(exportRuns([{ ...record, probes: undefined } as RunRecord])),
    );
    expect(old.probes).toBeUndefined();
  });
});

describe('the cross-run scatter', () => {
  it('has one point per run that probed: its last probe evaluation', () => {
    const points = scatterPoints([
      { id: 'a', name: 'A', colour: '#111111', probes: [point(2), point(8)] },
      { id: 'b', name: 'B', colour: '#222222' },
      { id: 'c', name: 'C', colour: '#333333', probes: [] },
      { id: 'd', name: 'D', colour: '#444444', probes: [point(5, { attentive: 70 })] },
    ]);
    expect(points).toEqual([
      {
        runId: 'a',
        name: 'A',
        colour: '#111111',
        step: 8,
        valLoss: 1 / 8,
        linear: 18,
        attentive: 28,
      },
      {
        runId: 'd',
        name: 'D',
        colour: '#444444',
        step: 5,
        valLoss: 0.2,
        linear: 15,
        attentive: 70,
      },
    ]);
  });

  it('gives Pearson’s r for three runs or more, none without spread', () => {
    expect(pearson([1, 2, 3], [6, 4, 2])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(0.8, 12);
    expect(pearson([1, 2], [2, 1])).toBeUndefined();
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeUndefined();
  });
});

describe('the data a run probes', () => {
  const data = makeProceduralDataset({ size: 16, trainCount: 16, valCount: 8, seed: 1 });

  it('is checked before the run starts', () => {
    expect(probeDataProblem({ probeEvery: 0 }, { ...data, classes: ['one'] })).toBeUndefined();
    expect(probeDataProblem({ probeEvery: 5 }, data)).toBeUndefined();
    expect(probeDataProblem({ probeEvery: 5 }, { ...data, classes: ['one'] })).toMatch(
      /at least two classes/,
    );
    expect(
      probeDataProblem({ probeEvery: 5 }, { ...data, val: { ...data.val, count: 0 } }),
    ).toMatch(/validation images/);
    expect(
      () =>
        new RunProber({
          ctx: undefined as never,
          config: undefined as never,
          settings: settings({ probeEvery: 1 }),
          dataset: { ...data, classes: ['one'] },
          downloadParameters: () => Promise.reject(new Error('not reached')),
        }),
    ).toThrow(/Probe every/);
  });

  it('is probed with PROBE_RECIPE at half the epochs', () => {
    expect(FIGURE4_PROBE_RECIPE).toEqual({ ...PROBE_RECIPE, epochs: 5 });
  });
});
