import { expect, test, type Download, type Page } from '@playwright/test';

// Compare orderings as the paper ran it (issue 14): Table 3b was pre-trained causally, so the
// comparison's attention is its own choice, causal by default even though the settings
// panel's "Prefix attention" is on; every chart's caption, the chart files' names and the JSON
// export say which attention the runs used. aim-micro, 2 steps per ordering.
const LINK =
  '/#tab=compare&preset=aim-micro&data=procedural&steps=2&batch=4&evalEvery=2&evalImages=8&chunks=4&checkpointEvery=0&seed=5';

async function text(download: Download): Promise<string> {
  const chunks = await (await download.createReadStream()).toArray();
  return Buffer.concat(chunks).toString('utf8');
}

async function download(page: Page, click: () => Promise<void>): Promise<Download> {
  const [d] = await Promise.all([page.waitForEvent('download'), click()]);
  return d;
}

async function runComparison(page: Page) {
  const table = page.getByTestId('compare-table');
  await page.getByTestId('compare-start').click();
  await expect(table).toHaveAttribute('data-running', 'true');
  await expect(table).toHaveAttribute('data-running', 'false', { timeout: 100_000 });
  for (const o of ['raster', 'spiral', 'checkerboard', 'random'])
    await expect(page.locator(`[data-ordering="${o}"]`)).toHaveAttribute('data-phase', 'finished');
}

test('the ordering comparison is causal by default and every chart and export names its attention', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(LINK);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  // The settings panel's default is prefix attention; the comparison's is causal (Table 3b).
  await expect(page.getByTestId('prefix')).toBeChecked();
  await expect(page.getByTestId('compare-attention-causal')).toBeChecked();
  await expect(page.getByTestId('compare-attention-prefix')).not.toBeChecked();
  await expect(page.getByTestId('compare-attention')).toContainText('as Table 3b (causal)');
  await expect(page.getByTestId('compare-attention')).toContainText('prefix');

  const chunkFigure = page.getByRole('figure', { name: /per chunk/ });
  const lossFigure = page.getByRole('figure', { name: /^Loss/ });
  await expect(chunkFigure.locator('.chart-title')).toHaveText(
    'Validation loss per chunk of the sequence (Figure 7) · attention: as Table 3b (causal)',
  );
  await expect(lossFigure.locator('.chart-title')).toHaveText(
    'Loss · attention: as Table 3b (causal)',
  );

  await runComparison(page);
  await expect(chunkFigure.locator('.chart-title')).toContainText('as Table 3b (causal)');
  const csv = await download(page, () => chunkFigure.getByRole('button', { name: 'CSV' }).click());
  expect(csv.suggestedFilename()).toBe('orderings-per-chunk-loss-causal.csv');
  const exported = await download(page, () => page.getByTestId('compare-export').click());
  expect(exported.suggestedFilename()).toMatch(
    /^compare-orderings-aim-micro-causal-seed5-sequential-\d{4}-\d{2}-\d{2}\.json$/,
  );
  const causal = JSON.parse(await text(exported));
  expect(causal.attention).toBe('causal');
  expect(causal.runs).toHaveLength(4);
  for (const r of causal.runs) expect(r.settings.prefix).toBe(false);

  // Prefix on request: the new comparison's runs, charts and exports say prefix.
  await page.getByTestId('compare-attention-prefix').check();
  await expect(page.getByTestId('compare-attention-help')).toContainText('prefix-causal');
  await runComparison(page);
  await expect(chunkFigure.locator('.chart-title')).toHaveText(
    'Validation loss per chunk of the sequence (Figure 7) · attention: prefix',
  );
  await expect(lossFigure.locator('.chart-title')).toHaveText('Loss · attention: prefix');
  const png = await download(page, () => lossFigure.getByRole('button', { name: 'PNG' }).click());
  expect(png.suggestedFilename()).toBe('orderings-loss-prefix.png');
  const prefixed = JSON.parse(
    await text(await download(page, () => page.getByTestId('compare-export').click())),
  );
  expect(prefixed.attention).toBe('prefix');
  expect(prefixed.id).not.toBe(causal.id);
  for (const r of prefixed.runs) expect(r.settings.prefix).toBe(true);
  expect(errors).toEqual([]);
});
