import { expect, test, type Page } from '@playwright/test';
import { importRuns } from './importRuns';
import { defaultsFor } from '../src/training/settings';

// Issue 15: "a run's page link from every place that names a run". A run's link is
// #tab=runs&run=<id>: it opens the Runs tab with that run marked, overlaid and in view. The
// Train view's run status, the Inference tab's run picker and the comparison table link to it;
// a link to a run this browser does not have says so.

function fakeRun(id: string, name: string, createdAt: number, lr: number) {
  return {
    id,
    name,
    createdAt: Date.parse('2026-01-01T00:00:00Z') + createdAt,
    colour: '#0072b2',
    settings: { ...defaultsFor('aim-micro'), steps: 3, lr },
    dataset: { kind: 'fashion-mnist' },
    phase: 'finished',
    step: 3,
    checkpointStep: 3,
    metrics: [1, 2, 3].map((step) => ({
      step,
      trainLoss: 1 - step * 0.1,
      lr,
      gradNorm: 1,
      stepMs: 500,
      imgPerSec: 4,
    })),
    evals: [{ step: 3, valLoss: 0.8, chunkLoss: [1, 0.9] }],
  };
}

const RUNS = [fakeRun('run-a', 'alpha', 1000, 0.001), fakeRun('run-b', 'beta', 2000, 0.002)];

async function openWithRuns(page: Page) {
  await page.goto('/#tab=runs');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await importRuns(page, RUNS);
  await expect(page.getByTestId('run-row')).toHaveCount(2);
}

const row = (page: Page, id: string) => page.locator(`tr[data-run-id="${id}"]`);

test('a run’s link opens the Runs tab on it; Train, Inference and a missing run', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openWithRuns(page);

  // Opened from the address (a copied link): that run is marked and overlaid.
  await page.goto('/#tab=runs&run=run-a');
  await page.reload();
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(row(page, 'run-a')).toHaveAttribute('data-focused', 'true');
  await expect(row(page, 'run-a').getByTestId('run-select')).toBeChecked();
  await expect(row(page, 'run-b')).not.toHaveAttribute('data-focused', 'true');
  await expect(page.getByTestId('overlay-loss-chart')).toHaveAttribute('data-points', '3');
  expect(page.url()).toContain('run=run-a');
  // `run` is understood, not reported as an unknown setting.
  await expect(page.getByTestId('link-problems')).toHaveCount(0);

  // The Train view names the run it shows, with its link.
  await row(page, 'run-b').getByRole('button', { name: 'Load settings' }).click();
  await expect(page.getByTestId('train-view')).toBeVisible();
  const trainLink = page.getByTestId('run-status').getByTestId('run-link');
  await expect(trainLink).toHaveAttribute('href', '#tab=runs&run=run-b');
  await trainLink.click();
  await expect(page.getByTestId('runs-view')).toBeVisible();
  await expect(row(page, 'run-b')).toHaveAttribute('data-focused', 'true');
  expect(page.url()).toContain('run=run-b');

  // The Inference tab's run picker links to the picked run.
  await page.getByTestId('tab-inference').click();
  await page.getByTestId('run-pick').selectOption('run-a');
  await page.getByTestId('inference-run-link').click();
  await expect(row(page, 'run-a')).toHaveAttribute('data-focused', 'true');

  // A link to a run this browser does not have says so.
  await page.goto('/#tab=runs&run=run-zzz');
  await page.reload();
  await expect(page.getByTestId('run-link-missing')).toContainText('run-zzz');
  expect(errors).toEqual([]);
});
