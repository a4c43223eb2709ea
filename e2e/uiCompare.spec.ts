import { expect, test, type Download } from '@playwright/test';

// Compare orderings through the UI: one click trains raster, spiral, checkerboard and random
// (aim-micro, 2 steps each, one evaluation at the end), the per-chunk chart gets four lines,
// and its CSV and the comparison's JSON export contain all four.
const LINK =
  '/#tab=compare&preset=aim-micro&data=procedural&steps=2&batch=4&evalEvery=2&evalImages=8&chunks=4&checkpointEvery=0&seed=5';
const ORDERINGS = ['raster', 'spiral', 'checkerboard', 'random'];

async function text(download: Promise<Download>): Promise<string> {
  const chunks = await (await (await download).createReadStream()).toArray();
  return Buffer.concat(chunks).toString('utf8');
}

test('compare orderings trains all four and exports the per-chunk lines', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(LINK);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('compare-view')).toBeVisible();
  // Each ordering drawn on a real image before anything trains.
  for (const o of ORDERINGS) await expect(page.getByTestId(`ordering-${o}`)).toBeVisible();

  await page.getByTestId('compare-start').click();
  const chart = page.getByTestId('compare-chunk-chart');
  await expect(chart).toHaveAttribute('data-series', ORDERINGS.join(','), { timeout: 100_000 });
  await expect(chart).toHaveAttribute('data-points', '4');
  await expect(page.getByTestId('compare-table')).toHaveAttribute('data-running', 'false');
  for (const o of ORDERINGS)
    await expect(page.locator(`[data-ordering="${o}"]`)).toHaveAttribute('data-phase', 'finished');
  await page.screenshot({ path: 'e2e-artifacts/ui-compare.png', fullPage: true });

  const csv = await text(
    Promise.all([
      page.waitForEvent('download'),
      page
        .getByRole('figure', { name: /per chunk/ })
        .getByRole('button', { name: 'CSV' })
        .click(),
    ]).then(([d]) => d),
  );
  const rows = csv.trim().split('\n');
  expect(rows[0]).toBe(`chunk of the sequence,${ORDERINGS.join(',')}`);
  expect(rows).toHaveLength(5);
  for (const row of rows.slice(1)) {
    const cells = row.split(',').map(Number);
    expect(cells).toHaveLength(5);
    for (const v of cells.slice(1)) expect(v).toBeGreaterThan(0);
  }

  const [exported] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('compare-export').click(),
  ]);
  // Named for what it holds, not an id (issue 15, defect 11).
  expect(exported.suggestedFilename()).toMatch(
    /^compare-orderings-aim-micro-causal-seed5-sequential-\d{4}-\d{2}-\d{2}\.json$/,
  );
  const json = JSON.parse(await text(Promise.resolve(exported)));
  expect(json.format).toBe('aim-playground-comparison');
  expect(json.runs.map((r: { settings: { ordering: string } }) => r.settings.ordering)).toEqual(
    ORDERINGS,
  );
  for (const r of json.runs) {
    expect(r.metrics).toHaveLength(2);
    expect(r.settings.seed).toBe(5);
    expect(r.evals.at(-1).chunkLoss).toHaveLength(4);
  }
  expect(errors).toEqual([]);
});

test('interleaved: the four orderings take turns, resuming from checkpoints, and all finish', async ({
  page,
}) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Turns of one step (evalEvery=1): every turn resumes the ordering from its checkpoint.
  await page.goto(LINK.replace('evalEvery=2', 'evalEvery=1'));
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await page.getByTestId('compare-mode-interleaved').check();
  await page.getByTestId('compare-start').click();
  const chart = page.getByTestId('compare-chunk-chart');
  // After the first round every ordering has one evaluation, before any has finished.
  await expect(chart).toHaveAttribute('data-series', ORDERINGS.join(','), { timeout: 100_000 });
  await expect(page.getByTestId('compare-table')).toHaveAttribute('data-running', 'false', {
    timeout: 100_000,
  });
  for (const o of ORDERINGS) {
    const row = page.locator(`[data-ordering="${o}"]`);
    await expect(row).toHaveAttribute('data-phase', 'finished');
    await expect(row.locator('td').nth(1)).toHaveText('2 / 2');
  }
  await expect(page.getByTestId('compare-loss-chart')).toHaveAttribute('data-points', '2');
  expect(errors).toEqual([]);
});
