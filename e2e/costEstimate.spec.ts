import { expect, test, type Page } from '@playwright/test';

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

test('a time estimate before the first run, remembered, then measured by the run', async ({
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

  // A run of these settings: the estimate becomes that run's measured step time.
  await page.getByTestId('train').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-phase', 'finished', {
    timeout: 240_000,
  });
  await expect(estimate).toHaveAttribute('data-source', 'same-run');
  await expect(estimate).toContainText('measured in “aim-micro · raster · seed 3”');
  // Other settings: scaled from that run by the work per step.
  await page.getByTestId('batch').fill('8');
  await expect(estimate).toHaveAttribute('data-source', 'other-run');
  await expect(estimate).toContainText('scaled from');
  expect(errors).toEqual([]);
});
