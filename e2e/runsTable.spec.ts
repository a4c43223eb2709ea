import { expect, test, type Download, type Page } from '@playwright/test';
import { importRuns } from './importRuns';
import { defaultsFor } from '../src/training/settings';

// Issue 15, defect 10: the Runs table sorts and filters, shows each run's training time and
// the user's notes (kept across a reload and in exports), and groups the runs of one ordering
// comparison under a header. Runs come from an export file (no training).

function fakeRun(
  id: string,
  name: string,
  createdAt: number,
  loss: number,
  stepMs: number,
  extra: Record<string, unknown> = {},
) {
  return {
    id,
    name,
    createdAt: Date.parse('2026-01-01T00:00:00Z') + createdAt,
    colour: '#0072b2',
    settings: { ...defaultsFor('aim-micro'), steps: 3 },
    dataset: { kind: 'procedural', size: 16 },
    phase: 'finished',
    step: 3,
    metrics: [1, 2, 3].map((step) => ({
      step,
      trainLoss: loss + (3 - step) * 0.1,
      lr: 0.001,
      gradNorm: 1,
      stepMs,
      imgPerSec: 4,
    })),
    evals: [{ step: 3, valLoss: loss + 0.05, chunkLoss: [1, 0.9] }],
    ...extra,
  };
}

const causal = { ...defaultsFor('aim-micro'), steps: 3, prefix: false };
const RUNS = [
  fakeRun('solo-old', 'first try', 1_000, 1.5, 2_000),
  fakeRun('cmp-r', 'compare raster', 2_000, 1.2, 500, {
    settings: { ...causal, ordering: 'raster' },
    compare: { id: 'cmp-1', ordering: 'raster' },
  }),
  fakeRun('cmp-s', 'compare spiral', 2_001, 1.3, 500, {
    settings: { ...causal, ordering: 'spiral' },
    compare: { id: 'cmp-1', ordering: 'spiral' },
  }),
  fakeRun('solo-new', 'latest try', 3_000, 0.9, 20_000),
];

async function openWithRuns(page: Page) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=runs');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await importRuns(page, RUNS);
  await expect(page.getByTestId('run-row')).toHaveCount(4);
  return errors;
}

const names = (page: Page) => page.getByTestId('run-row').getByTestId('run-name').allTextContents();

test('runs: sort, filter, training time, notes, comparison groups', async ({ page }) => {
  const errors = await openWithRuns(page);
  // Newest first; the comparison's two runs together under one header.
  expect(await names(page)).toEqual([
    'latest try',
    'compare spiral',
    'compare raster',
    'first try',
  ]);
  const group = page.getByTestId('compare-group');
  await expect(group).toHaveCount(1);
  await expect(group).toContainText('Ordering comparison (causal)');
  await expect(group).toContainText('spiral, raster');

  // Training time: the steps' own time (3 × 20 s = 1 min 00 s; 3 × 2 s = 6.0 s).
  const row = (name: string) =>
    page.getByTestId('run-row').filter({ has: page.getByText(name, { exact: true }) });
  await expect(row('latest try').getByTestId('run-time')).toHaveText('1 min 00 s');
  await expect(row('first try').getByTestId('run-time')).toHaveText('6.0 s');

  // Sorting.
  await page.getByTestId('runs-sort').selectOption('valLoss');
  expect(await names(page)).toEqual([
    'latest try',
    'compare raster',
    'compare spiral',
    'first try',
  ]);
  await page.getByTestId('runs-sort').selectOption('time');
  expect((await names(page))[0]).toBe('latest try');
  await page.getByTestId('runs-sort').selectOption('name');
  expect(await names(page)).toEqual([
    'compare raster',
    'compare spiral',
    'first try',
    'latest try',
  ]);

  // Filtering, on every word, with a count of what is shown.
  await page.getByTestId('runs-filter').fill('spiral');
  expect(await names(page)).toEqual(['compare spiral']);
  await expect(page.getByTestId('runs-shown')).toHaveText('1 of 4 runs shown');
  await page.getByTestId('runs-filter').fill('no such run');
  await expect(page.getByTestId('runs-none-match')).toBeVisible();
  await page.getByTestId('runs-filter').fill('');
  await expect(page.getByTestId('runs-shown')).toHaveText('4 runs');

  // Notes: added in place, searchable, kept across a reload and carried by the export.
  await row('first try').getByTestId('edit-notes').click();
  await page.getByTestId('notes-input').fill('lr too high, diverged at 2k');
  await page.getByTestId('notes-input').press('Control+Enter');
  await expect(row('first try').getByTestId('run-notes')).toHaveText('lr too high, diverged at 2k');
  await page.getByTestId('runs-filter').fill('diverged');
  expect(await names(page)).toEqual(['first try']);
  await page.reload();
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(row('first try').getByTestId('run-notes')).toHaveText('lr too high, diverged at 2k');
  const [download]: [Download, void] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('export-all').click(),
  ]);
  const exported = JSON.parse(
    Buffer.concat(await (await download.createReadStream()).toArray()).toString('utf8'),
  );
  expect(exported.runs.find((r: { id: string }) => r.id === 'solo-old').notes).toBe(
    'lr too high, diverged at 2k',
  );
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: 'e2e-artifacts/runs-table-1280.png', fullPage: true });
  await page.setViewportSize({ width: 390, height: 800 });
  await page.screenshot({ path: 'e2e-artifacts/runs-table-390.png', fullPage: true });
  expect(errors).toEqual([]);
});
