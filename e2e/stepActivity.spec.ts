import { expect, test } from '@playwright/test';

// Progress within one step (issue 15, defect 8): a step that takes seconds shows how long it
// has run, ticking, and against what a step takes here. aim-micro at batch 64 on the embedded
// Fashion-MNIST set takes several seconds a step on SwiftShader (batch 4 takes about one).
const LINK =
  '/#tab=train&preset=aim-micro&steps=3&batch=64&evalEvery=100&evalImages=8&chunks=4&checkpointEvery=0&seed=5';

const seconds = (text: string) => {
  const m = /: ([\d.]+) (ms|s) so far/.exec(text);
  if (!m) throw new Error(`no elapsed time in “${text}”`);
  return m[2] === 's' ? Number(m[1]) : Number(m[1]) / 1000;
};

test('a slow step shows its elapsed time, ticking, and the last step’s time once known', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(LINK);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('batch')).toHaveValue('64');
  await page.getByTestId('train').click();

  const activity = page.getByTestId('step-activity');
  await expect(activity).toContainText(/Step 1: .* so far/, { timeout: 90_000 });
  const first = seconds(await activity.innerText());
  // It ticks while the same step runs (the record is only patched when the worker says so).
  await expect
    .poll(async () => {
      const text = await activity.innerText();
      return /Step 1:/.test(text) ? seconds(text) : Infinity;
    })
    .toBeGreaterThan(first);
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-step', '0');

  // From the second step on, the expected time is the run's own last step, with a bar.
  await expect(activity).toContainText(/Step 2: .* so far \(the last step took .+\)/, {
    timeout: 90_000,
  });
  const bar = activity.locator('progress');
  await expect(bar).toHaveAttribute('aria-label', /Within this step: about \d+% \(estimated\)/);
  const value = Number(await bar.getAttribute('value'));
  expect(value).toBeGreaterThan(0);
  expect(value).toBeLessThan(1);
  await page.screenshot({ path: 'e2e-artifacts/step-activity-1280.png' });
  await page.setViewportSize({ width: 390, height: 800 });
  await activity.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/step-activity-390.png' });

  await expect(page.getByTestId('run-status')).toHaveAttribute('data-phase', 'finished', {
    timeout: 90_000,
  });
  await expect(activity).toHaveCount(0);
  expect(errors).toEqual([]);
});
