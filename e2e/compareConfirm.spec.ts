import { expect, test } from '@playwright/test';

// Compare orderings never stops a Train run silently (issue 15, defect 6): it asks first, a
// "keep training" leaves the run alone, and after "stop it and compare" the Train tab still
// shows the user's own run (stopped, continuable), not one of the comparison's runs.
const LINK =
  '/#tab=train&preset=aim-micro&data=procedural&steps=1000&batch=4&evalEvery=1000&evalImages=8&chunks=4&checkpointEvery=0&seed=3';

test('starting a comparison while a Train run is going asks first, then keeps that run continuable', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(LINK);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await page.getByTestId('train').click();
  const status = page.getByTestId('run-status');
  await expect(status).toHaveAttribute('data-phase', 'running', { timeout: 150_000 });

  await page.getByTestId('tab-compare').click();
  await page.getByTestId('compare-start').click();
  const confirm = page.getByTestId('compare-confirm');
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText('aim-micro · raster · seed 3');
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: 'e2e-artifacts/compare-confirm-1280.png' });
  await page.setViewportSize({ width: 390, height: 844 });
  await confirm.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/compare-confirm-390.png' });
  await page.setViewportSize({ width: 1280, height: 720 });

  // "Keep training": nothing stops.
  await page.getByTestId('compare-confirm-cancel').click();
  await expect(confirm).toHaveCount(0);
  await expect(page.getByTestId('compare-table')).toHaveAttribute('data-running', 'false');
  await page.getByTestId('tab-train').click();
  await expect(status).toHaveAttribute('data-phase', 'running');

  // "Stop it and compare": the Train run stops with a checkpoint, the comparison starts.
  await page.getByTestId('tab-compare').click();
  await page.getByTestId('compare-start').click();
  await page.getByTestId('compare-confirm-stop').click();
  await expect(page.getByTestId('compare-table')).toHaveAttribute('data-running', 'true');

  // The Train tab shows the user's run, not a comparison run, and Train waits for the comparison.
  await page.getByTestId('tab-train').click();
  await expect(status).toHaveAttribute('data-phase', 'stopped');
  await expect(page.getByTestId('train')).toBeDisabled();
  await expect(page.getByTestId('train-blocked-by-compare')).toBeVisible();

  await page.getByTestId('tab-compare').click();
  await page.getByTestId('compare-stop').click();
  await expect(page.getByTestId('compare-table')).toHaveAttribute('data-running', 'false', {
    timeout: 150_000,
  });
  await page.getByTestId('tab-train').click();
  await expect(page.getByTestId('resume-checkpoint')).toBeVisible();
  expect(errors).toEqual([]);
});
