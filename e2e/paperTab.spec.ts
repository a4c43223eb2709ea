import { expect, test, type Page } from '@playwright/test';

// The Paper tab (issue 14): a tiny Table 3e grid (two cells: no head, MLP head) on aim-micro,
// one step each and one probe epoch, in the paper-mode worker. The page is reloaded after the
// first cell: the saved grid shows its finished cell and resumes with the other one only.

async function fill(page: Page, testId: string, value: string) {
  await page.getByTestId(testId).fill(value);
}

test('a paper grid runs in the worker, survives a reload, resumes and exports table.json', async ({
  page,
}) => {
  test.setTimeout(600_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=paper');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('paper-view')).toBeVisible();
  await page.getByTestId('paper-table-choice').selectOption('3e');
  await page.getByTestId('paper-dataset').selectOption('procedural');
  await fill(page, 'paper-steps', '1');
  await fill(page, 'paper-batch', '2');
  await fill(page, 'paper-seed', '4');
  await fill(page, 'paper-probeTrainImages', '64');
  await fill(page, 'paper-probeTestImages', '16');
  await fill(page, 'paper-probeEpochs', '1');
  await page.getByTestId('paper-run').click();
  await expect(page.getByTestId('paper-progress')).toBeVisible();

  // The first cell's numbers appear in the table; then the page goes away mid-grid.
  const table = page.getByTestId('paper-table');
  await expect(table.locator('td[data-variant="none"]').first()).toHaveText(/^\d+\.\d$/, {
    timeout: 400_000,
  });
  await page.reload();
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(table.locator('td[data-variant="none"]').first()).toHaveText(/^\d+\.\d$/);
  const resume = page.getByTestId('paper-resume');
  // (When the second cell had also finished before the reload there is nothing to resume.)
  if (await resume.isVisible()) {
    await expect(resume).toContainText('1 of 2 cells finished');
    await resume.click();
  }
  await expect(table.locator('td[data-variant="mlp"]').first()).toHaveText(/^\d+\.\d$/, {
    timeout: 400_000,
  });
  await expect(table).toContainText('attentive (paper, AIM-0.6B)');
  await expect(table).toContainText('75.4');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('paper-export-json').click(),
  ]);
  expect(download.suggestedFilename()).toBe('paper-table-3e-aim-micro-1x2-seed4.json');
  const json = JSON.parse(
    Buffer.concat(await (await download.createReadStream()).toArray()).toString('utf8'),
  ) as { table: string; preset: string; steps: number; cells: { variant: string }[] };
  expect(json).toMatchObject({ table: '3e', preset: 'aim-micro', steps: 1 });
  expect(json.cells.map((c) => c.variant)).toEqual(['none', 'mlp']);
  expect(errors).toEqual([]);
});
