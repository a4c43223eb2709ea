/**
 * The Runs table's sort, filter, training time and comparison groups (issue 15, defect 10).
 */
import { describe, expect, it } from 'vitest';
import { defaultsFor } from '../src/training/settings';
import { defaultInferenceRun, type RunRecord } from '../src/ui/runRecords';
import { filterRuns, groupRuns, trainingMs } from '../src/ui/runsTable';

function run(
  id: string,
  over: Partial<RunRecord> & { loss?: number; val?: number } = {},
): RunRecord {
  const { loss, val, ...rest } = over;
  return {
    id,
    name: id,
    createdAt: 1000,
    colour: '#000000',
    settings: defaultsFor('aim-micro'),
    dataset: { kind: 'procedural', size: 16 },
    phase: 'finished',
    step: 2,
    metrics:
      loss === undefined
        ? []
        : [
            { step: 1, trainLoss: loss + 1, lr: 1e-3, gradNorm: 1, stepMs: 400, imgPerSec: 1 },
            { step: 2, trainLoss: loss, lr: 1e-3, gradNorm: 1, stepMs: 600, imgPerSec: 1 },
          ],
    evals: val === undefined ? [] : [{ step: 2, valLoss: val, chunkLoss: [] }],
    ...rest,
  };
}

describe('runs table', () => {
  it('sums the steps’ own time', () => {
    expect(trainingMs(run('a', { loss: 1 }))).toBe(1000);
    expect(trainingMs(run('b'))).toBe(0);
  });

  it('sorts by each column, runs without a value last', () => {
    const runs = [
      run('b', { createdAt: 2, loss: 0.5, val: 0.9 }),
      run('a', { createdAt: 3, loss: 0.2 }),
      run('c', { createdAt: 1, val: 0.4 }),
    ];
    const names = (key: Parameters<typeof groupRuns>[1]) =>
      groupRuns(runs, key).flatMap((g) => g.runs.map((r) => r.id));
    expect(names('newest')).toEqual(['a', 'b', 'c']);
    expect(names('oldest')).toEqual(['c', 'b', 'a']);
    expect(names('name')).toEqual(['a', 'b', 'c']);
    expect(names('trainLoss')).toEqual(['a', 'b', 'c']);
    expect(names('valLoss')).toEqual(['c', 'b', 'a']);
    expect(names('time')).toEqual(['b', 'a', 'c']);
  });

  it('sorts names with numbers as a person would', () => {
    const runs = [run('run 10'), run('run 9'), run('run 1')];
    expect(groupRuns(runs, 'name').map((g) => g.key)).toEqual(['run 1', 'run 9', 'run 10']);
  });

  it('filters on every word, across name, settings, status and notes', () => {
    const runs = [
      run('a', { name: 'baseline', notes: 'the good one' }),
      run('b', {
        name: 'spiral try',
        settings: { ...defaultsFor('aim-micro'), ordering: 'spiral' },
      }),
      run('c', { name: 'broken', phase: 'failed' }),
    ];
    const ids = (q: string) => filterRuns(runs, q, new Map()).map((r) => r.id);
    expect(ids('')).toEqual(['a', 'b', 'c']);
    expect(ids('GOOD')).toEqual(['a']);
    expect(ids('spiral')).toEqual(['b']);
    expect(ids('failed')).toEqual(['c']);
    expect(ids('aim-micro good')).toEqual(['a']);
    expect(ids('nothing-like-this')).toEqual([]);
    // The settings a run differs in are searchable too.
    expect(filterRuns(runs, 'lr=0.002', new Map([['c', ['lr=0.002']]])).map((r) => r.id)).toEqual([
      'c',
    ]);
  });

  it('keeps a comparison’s runs together under one group, placed where its first run sorts', () => {
    const settings = { ...defaultsFor('aim-micro'), prefix: false };
    const runs = [
      run('solo-old', { createdAt: 1 }),
      run('r', { createdAt: 5, settings, compare: { id: 'cmp', ordering: 'raster' } }),
      run('solo-new', { createdAt: 10 }),
      run('s', { createdAt: 6, settings, compare: { id: 'cmp', ordering: 'spiral' } }),
    ];
    const groups = groupRuns(runs, 'newest');
    expect(groups.map((g) => g.key)).toEqual(['solo-new', 'cmp', 'solo-old']);
    expect(groups[1].runs.map((r) => r.id)).toEqual(['s', 'r']);
    expect(groups[1].comparison).toEqual({
      started: 5,
      attention: 'causal',
      orderings: ['spiral', 'raster'],
    });
    expect(groups[0].comparison).toBeUndefined();
  });
});

describe('the Inference tab’s default run', () => {
  it('is the run the Train tab shows, else the newest finished, else the newest', () => {
    const finishedOld = run('finished-old', { createdAt: 1, phase: 'finished' });
    const finishedNew = run('finished-new', { createdAt: 2, phase: 'finished' });
    const failedNewest = run('failed-newest', { createdAt: 3, phase: 'failed' });
    const runs = [finishedOld, finishedNew, failedNewest];
    expect(defaultInferenceRun(runs, 'finished-old')?.id).toBe('finished-old');
    expect(defaultInferenceRun(runs, undefined)?.id).toBe('finished-new');
    expect(defaultInferenceRun([failedNewest], 'gone')?.id).toBe('failed-newest');
    expect(defaultInferenceRun([], undefined)).toBeUndefined();
  });
});
