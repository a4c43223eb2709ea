import { expect, test, type Page } from '@playwright/test';
import { importRuns } from './importRuns';
import { defaultsFor } from '../src/training/settings';

// Issue 15, defect 8: the cost before pressing Train. On first use the page measures this
// adapter's speed once (in the worker) and remembers it; the Train panel then says seconds
// per step and the run's total for the current settings; after a run, the figure comes from
// that run's measured steps (same settings), or is scaled from it (other settings).
const LINK =
  '/#tab=train&preset=aim-micro&steps=5&batch=4&evalEvery=100&evalImages=8&chunks=4&checkpointEvery=0&seed=3';

async function openReady(page: Page, url: string) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  return errors;
}

const msPerStep = async (page: Page) =>
  Number(await page.getByTestId('cost-estimate').getAttribute('data-ms-per-step'));

test('a time estimate before the first run, remembered, then from a run on this adapter', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const errors = await openReady(page, LINK);
  const estimate = page.getByTestId('cost-estimate');
  // First use: measured once, then a rough estimate for these settings.
  await expect(estimate).toHaveAttribute('data-source', 'measurement', { timeout: 60_000 });
  await expect(estimate).toContainText('per step');
  await expect(estimate).toContainText('for 5 steps');
  await expect(estimate).toContainText('rough');
  const rough = await msPerStep(page);
  expect(rough).toBeGreaterThan(0);

  // A larger batch does more work per step: the estimate follows the settings.
  await page.getByTestId('batch').fill('16');
  await expect.poll(() => msPerStep(page)).toBeGreaterThan(rough * 2);
  await page.getByTestId('batch').fill('4');
  await expect.poll(() => msPerStep(page)).toBe(rough);

  // Remembered for this adapter: after a reload there is nothing to measure again.
  await page.reload();
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(estimate).toHaveAttribute('data-source', 'measurement');
  expect(await msPerStep(page)).toBe(rough);

  // A run of these settings on this adapter (imported with the adapter key runs record, so no
  // training is needed here; e2e/training specs cover real runs): the estimate becomes that
  // run's measured median step time.
  const adapter = await page.evaluate(
    () => Object.keys(JSON.parse(localStorage.getItem('aim-playground.gpu-rate.v1') ?? '{}'))[0],
  );
  expect(adapter).toBeTruthy();
  const settings = await page.evaluate(() => location.hash);
  expect(settings).toContain('steps=5');
  const run = {
    id: 'run-measured',
    name: 'measured here',
    createdAt: Date.parse('2026-01-01T00:00:00Z'),
    colour: '#0072b2',
    settings: {
      ...defaultsFor('aim-micro'),
      steps: 5,
      batch: 4,
      evalEvery: 100,
      evalImages: 8,
      chunks: 4,
      checkpointEvery: 0,
      seed: 3,
    },
    dataset: { kind: 'fashion-mnist' },
    phase: 'finished',
    step: 5,
    adapter,
    // Warm-up steps (the first two) are left out of the median: 700 ms.
    metrics: [5000, 3000, 700, 690, 710].map((stepMs, i) => ({
      step: i + 1,
      trainLoss: 1,
      lr: 1e-3,
      gradNorm: 1,
      stepMs,
      imgPerSec: 4,
    })),
    evals: [],
  };
  await page.getByTestId('tab-runs').click();
  await importRuns(page, [run]);
  await page.getByTestId('tab-train').click();
  await expect(estimate).toHaveAttribute('data-source', 'same-run');
  await expect(estimate).toContainText('measured in “measured here”');
  expect(await msPerStep(page)).toBe(700);
  await expect(estimate).toContainText('3.5 s for 5 steps');
  // Other settings: scaled from that run by the work per step (twice the batch, about twice).
  await page.getByTestId('batch').fill('8');
  await expect(estimate).toHaveAttribute('data-source', 'other-run');
  await expect(estimate).toContainText('scaled from');
  const scaled = await msPerStep(page);
  expect(scaled).toBeGreaterThan(1300);
  expect(scaled).toBeLessThan(1500);
  expect(errors).toEqual([]);
});
