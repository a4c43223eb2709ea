import { expect, test, type Download, type Page } from '@playwright/test';
import { defaultsFor } from '../src/training/settings';
import { importRuns } from './importRuns';

// The Runs tab, the settings panel and the GPU tab, without training (fast): runs come from an
// export file made here; the table shows what differs, renames, overlays, exports, deletes and
// survives a reload; settings are validated and written to the link; tabs work by keyboard.

function fakeRun(id: string, name: string, lr: number, colour: string, losses: number[]) {
  return {
    id,
    name,
    createdAt: Date.parse('2026-01-01T00:00:00Z') + losses.length * 1000 + lr * 1e6,
    colour,
    settings: { ...defaultsFor('aim-micro'), steps: losses.length, lr },
    dataset: { kind: 'procedural', size: 16 },
    phase: 'finished',
    step: losses.length,
    metrics: losses.map((trainLoss, i) => ({
      step: i + 1,
      trainLoss,
      lr,
      gradNorm: 1,
      stepMs: 900,
      imgPerSec: 4,
    })),
    evals: [
      { step: losses.length, valLoss: losses.at(-1)! + 0.01, chunkLoss: [1.2, 1.1, 1.0, 0.9] },
    ],
  };
}

const EXPORT = {
  format: 'aim-playground-runs',
  version: 1,
  exportedAt: '2026-01-01T00:00:00Z',
  runs: [
    fakeRun('run-a', 'baseline', 0.001, '#0072b2', [2, 1.6, 1.3, 1.2]),
    fakeRun('run-b', 'low lr', 0.0005, '#e69f00', [2, 1.8, 1.6, 1.5]),
    fakeRun('run-c', 'high lr', 0.002, '#009e73', [2, 1.5, 1.2, 1.1]),
  ],
};

async function openReady(page: Page, url = '/') {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  return errors;
}

async function text(download: Download): Promise<string> {
  return Buffer.concat(await (await download.createReadStream()).toArray()).toString('utf8');
}

test('runs: import, differences, rename, overlay, export, delete, reload', async ({ page }) => {
  const errors = await openReady(page, '/#tab=runs');
  await importRuns(page, EXPORT.runs);
  await expect(page.getByTestId('runs-note')).toHaveText('Imported 3 runs.');
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(3);
  // Newest first by default; these steps read the runs in the order they were made.
  await page.getByTestId('runs-sort').selectOption('oldest');
  // Only the learning rate differs, so only it is listed.
  await expect(rows.nth(0).getByTestId('run-diff')).toHaveText('lr=0.0005');
  await expect(page.getByTestId('runs-table').getByTestId('run-diff').nth(2)).toHaveText(
    'lr=0.002',
  );

  // Rename with the keyboard.
  await rows
    .nth(0)
    .getByRole('button', { name: /Rename/ })
    .click();
  await page.getByTestId('rename-input').fill('half lr');
  await page.getByTestId('rename-input').press('Enter');
  await expect(rows.nth(0).getByTestId('run-name')).toHaveText('half lr');

  // Overlay two runs in their own colours.
  await rows.nth(0).getByTestId('run-select').check();
  await rows.nth(2).getByTestId('run-select').check();
  const overlay = page.getByTestId('overlay-loss-chart');
  // Overlaid runs: each run's smoothed training curve is labelled with the run's name.
  await expect(overlay).toHaveAttribute('data-series', /(^|,)half lr(,|$)/);
  await expect(overlay).toHaveAttribute('data-series', /(^|,)high lr(,|$)/);
  await expect(page.getByTestId('overlay-chunk-chart')).toHaveAttribute(
    'data-series',
    'half lr,high lr',
  );
  await page.screenshot({ path: 'e2e-artifacts/ui-runs.png', fullPage: true });
  const [png] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('figure', { name: 'Loss chart' }).getByRole('button', { name: 'PNG' }).click(),
  ]);
  expect(png.suggestedFilename()).toBe('selected-runs-loss.png');
  const bytes = Buffer.concat(await (await png.createReadStream()).toArray());
  expect([...bytes.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('export-all').click(),
  ]);
  const exported = JSON.parse(await text(download));
  expect(exported.format).toBe('aim-playground-runs');
  expect(exported.runs.map((r: { name: string }) => r.name).sort()).toEqual(
    ['baseline', 'half lr', 'high lr'].sort(),
  );

  page.once('dialog', (d) => void d.accept());
  await rows
    .nth(1)
    .getByRole('button', { name: /Delete/ })
    .click();
  await expect(rows).toHaveCount(2);

  // Runs persist (IndexedDB) across a reload.
  await page.reload();
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(rows).toHaveCount(2);
  await page.getByTestId('runs-sort').selectOption('oldest');
  await expect(rows.nth(0).getByTestId('run-name')).toHaveText('half lr');

  // "Load settings" puts a run's configuration in the panel and the link.
  await rows.nth(0).getByRole('button', { name: 'Load settings' }).click();
  await expect(page.getByTestId('train-view')).toBeVisible();
  await expect(page.getByTestId('lr')).toHaveValue('0.0005');
  expect(page.url()).toContain('lr=0.0005');
  expect(page.url()).toContain('preset=aim-micro');
  expect(errors).toEqual([]);
});

test('settings are validated and a link reproduces them; tabs work by keyboard', async ({
  page,
}) => {
  const errors = await openReady(page);
  await page.getByTestId('batch').fill('0');
  await expect(page.getByTestId('settings-problems')).toContainText(
    'batch must be a positive whole number',
  );
  await expect(page.getByTestId('train')).toBeDisabled();
  await page.getByTestId('batch').fill('16');
  await expect(page.getByTestId('settings-problems')).toHaveCount(0);
  await page.getByTestId('lr').fill('3e-4');
  await page.getByTestId('ordering').selectOption('spiral');
  await page.getByTestId('prefix').uncheck();
  await expect.poll(() => page.url()).toContain('ordering=spiral');

  // The same link in a fresh page gives the same settings.
  const link = page.url();
  const other = await page.context().newPage();
  await other.goto(link);
  await expect(other.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(other.getByTestId('batch')).toHaveValue('16');
  await expect(other.getByTestId('lr')).toHaveValue('0.0003');
  await expect(other.getByTestId('ordering')).toHaveValue('spiral');
  await expect(other.getByTestId('prefix')).not.toBeChecked();
  await other.close();

  // Keyboard: focus the selected tab, arrows move between tabs.
  await page.getByTestId('tab-train').focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('tab-compare')).toBeFocused();
  await expect(page.getByTestId('compare-view')).toBeVisible();
  await page.keyboard.press('End');
  await expect(page.getByTestId('tab-gpu')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('preset-limits')).toBeVisible();
  await expect(page.getByTestId('adapter-name')).not.toBeEmpty();
  await page.screenshot({ path: 'e2e-artifacts/ui-gpu.png', fullPage: true });
  await page.getByTestId('tab-gpu').press('ArrowLeft');
  await expect(page.getByTestId('inference-env')).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('tab-inference').press('ArrowLeft');
  await expect(page.getByTestId('runs-view')).toBeVisible();
  expect(errors).toEqual([]);
});

test('a bad dataset file is explained in plain words, with the detail one click away', async ({
  page,
}) => {
  const errors = await openReady(page);
  await page.getByTestId('dataset-user').check();
  await page.locator('.dropzone input[type=file]:not([webkitdirectory])').setInputFiles({
    name: 'photos.zip',
    mimeType: 'application/zip',
    buffer: Buffer.from('no zip'),
  });
  const notice = page.getByTestId('error-notice');
  await expect(notice).toContainText('The dataset could not be used.');
  await expect(notice.locator('pre')).toBeHidden();
  await notice.getByText('Technical detail').click();
  await expect(notice.locator('pre')).toBeVisible();
  await expect(page.getByTestId('train')).toBeDisabled();
  await page.screenshot({ path: 'e2e-artifacts/ui-dataset-error.png' });
  expect(errors).toEqual([]);
});
