import { describe, expect, it } from 'vitest';
import { summarizeLatencies } from '../src/ui/inference/latencySummary';
import { EXAMPLE_IMAGES } from '../src/ui/inference/exampleImages';
import { usePresenter } from '../src/ui/inference/presenterStore';
import { existsSync, readFileSync } from 'node:fs';

describe('summarizeLatencies', () => {
  it('has nothing before a run', () => {
    expect(summarizeLatencies([])).toEqual({
      firstMs: undefined,
      steadyMs: undefined,
      steadyRuns: 0,
    });
  });
  it('keeps the first run apart from the steady median (odd and even counts)', () => {
    expect(summarizeLatencies([{ run: 1, ms: 900 }])).toEqual({
      firstMs: 900,
      steadyMs: undefined,
      steadyRuns: 0,
    });
    const log = [
      { run: 1, ms: 900 },
      { run: 2, ms: 30 },
      { run: 3, ms: 10 },
      { run: 4, ms: 20 },
    ];
    expect(summarizeLatencies(log)).toEqual({ firstMs: 900, steadyMs: 20, steadyRuns: 3 });
    expect(summarizeLatencies([...log, { run: 5, ms: 50 }]).steadyMs).toBe(25);
  });
  it('quotes no first run when the log lacks run 1', () => {
    expect(summarizeLatencies([{ run: 2, ms: 12 }])).toEqual({
      firstMs: undefined,
      steadyMs: 12,
      steadyRuns: 1,
    });
  });
});

describe('example photos', () => {
  it('each has its file in public/examples/ and its credit in the licence file', () => {
    const licences = readFileSync('public/examples/README.md', 'utf8');
    for (const e of EXAMPLE_IMAGES) {
      expect(existsSync(`public/examples/${e.file}`), e.file).toBe(true);
      const row = licences.split('\n').find((l) => l.startsWith(`| ${e.file} `));
      expect(row, e.file).toBeDefined();
      // The page's short credit names the author and the licence of the file's row.
      const [author, licence] = e.credit.split(' · ');
      expect(row).toContain(author);
      expect(row!.toLowerCase()).toContain(licence.toLowerCase());
    }
  });
  it('steps through the photos with wrap-round', () => {
    const { step, choose } = usePresenter.getState();
    choose(0);
    step(-1);
    expect(usePresenter.getState().index).toBe(EXAMPLE_IMAGES.length - 1);
    step(1);
    step(1);
    expect(usePresenter.getState().index).toBe(1);
  });
});
