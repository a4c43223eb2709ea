import { expect, test, type Download, type Page } from '@playwright/test';
import { importRuns } from './importRuns';
import { defaultsFor } from '../src/training/settings';

// Issue 15, defect 11 (charts), and the empty-axes part of defect 13: curves for the learning
// rate, gradient norm and throughput; a step or training-time x axis; a legend that reads
// values without hovering; one legend entry per run when runs are overlaid; a step selector
// for Figure 7; PNGs of a fixed, large size with a caption naming the run and its settings.
// Runs come from an export file (no training: fast).

function fakeRun(id: string, name: string, colour: string, steps: number) {
  return {
    id,
    name,
    createdAt: Date.parse('2026-01-01T00:00:00Z') + steps,
    colour,
    settings: { ...defaultsFor('aim-micro'), steps, lr: 0.001 },
    dataset: { kind: 'procedural', size: 16 },
    phase: 'finished',
    step: steps,
    metrics: Array.from({ length: steps }, (_, i) => ({
      step: i + 1,
      trainLoss: 2 - i * 0.1,
      lr: 0.001 * Math.min(1, (i + 1) / 3),
      gradNorm: 3 - i * 0.2,
      stepMs: 500 + 100 * i,
      imgPerSec: 8 + i,
    })),
    // Evaluations at steps 2, 4, 6, …: per-chunk losses that fall over training.
    evals: Array.from({ length: Math.floor(steps / 2) }, (_, k) => ({
      step: 2 * (k + 1),
      valLoss: 1.9 - k * 0.2,
      chunkLoss: [1.5, 1.3, 1.1, 0.9].map((v) => v - k * 0.1),
    })),
  };
}

const RUNS = [
  fakeRun('run-a', 'first run', '#0072b2', 8),
  fakeRun('run-b', 'second run', '#e69f00', 6),
  fakeRun('run-c', 'third run', '#009e73', 6),
  fakeRun('run-d', 'fourth run with a long name', '#cc79a7', 6),
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

const row = (page: Page, name: string) =>
  page.getByTestId('run-row').filter({ has: page.getByText(name, { exact: true }) });

async function pngSize(download: Download): Promise<{ width: number; height: number }> {
  const bytes = Buffer.concat(await (await download.createReadStream()).toArray());
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

test('one run: dynamics curves, legend without hover, time axis, Figure 7 steps, PNG', async ({
  page,
}) => {
  const errors = await openWithRuns(page);
  await row(page, 'first run').getByTestId('run-select').check();

  for (const metric of ['lr', 'gradNorm', 'imgPerSec']) {
    const chart = page.getByTestId(`overlay-dynamics-${metric}`);
    await expect(chart).toHaveAttribute('data-points', '8');
    await expect(chart).toBeVisible();
  }
  // The clip threshold is drawn with the gradient norm.
  await expect(page.getByTestId('overlay-dynamics-gradNorm')).toHaveAttribute(
    'data-series',
    /clip threshold/,
  );

  // Without hovering, the legend shows each series' last value, never '--'.
  const loss = page.getByTestId('overlay-loss-chart');
  const legendValues = page
    .locator('figure', { has: loss })
    .locator('.u-legend .u-series:not(.no-legend) .u-value');
  await expect(legendValues.first()).toHaveText(/8 \(last\)/);
  const values = await legendValues.allTextContents();
  expect(values.length).toBeGreaterThan(1);
  for (const v of values) expect(v).not.toMatch(/^-+$|^$/);
  // The last training loss (2 − 7·0.1 = 1.3) is what the raw curve's legend shows.
  expect(values.join(' ')).toContain('1.3');

  // Training time on the x axis: the running sum of the steps' durations.
  await expect(loss).toHaveAttribute('data-x-label', 'step');
  await page.getByTestId('chart-x-axis').selectOption('time');
  await expect(loss).toHaveAttribute('data-x-label', 'training time (s)');
  await expect(page.getByTestId('overlay-dynamics-lr')).toHaveAttribute(
    'data-x-label',
    'training time (s)',
  );
  // 0.5 + 0.6 + … + 1.2 s = 6.8 s at the last step.
  await expect(legendValues.first()).toHaveText('6.8 (last)');
  await page.getByTestId('chart-x-axis').selectOption('step');

  // Figure 7's step selector: the newest evaluation by default, every one reachable.
  const chunk = page.getByTestId('overlay-chunk-chart');
  const label = page.getByTestId('overlay-chunk-chart-step-label');
  await expect(label).toContainText('step 8 (newest)');
  await expect(label).toContainText('4 of 4');
  await expect(chunk).toHaveAttribute('data-series', /step 2 \(first\),step 8$/);
  const slider = page.getByTestId('overlay-chunk-chart-step');
  await slider.focus();
  await page.keyboard.press('ArrowLeft');
  await expect(label).toContainText('step 6 · 3 of 4');
  await expect(chunk).toHaveAttribute('data-series', /step 2 \(first\),step 6$/);
  await page.keyboard.press('Home');
  await expect(label).toContainText('step 2 · 1 of 4');

  // The PNG: 960×480 plot at 2× (plus title, caption and legend), caption naming the run.
  await expect(loss).toHaveAttribute(
    'data-caption',
    /first run · aim-micro, raster ordering, .* attention · batch \d+, lr 0\.001, 8 of 8 steps, seed \d+ · procedural/,
  );
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('figure', { has: loss }).getByRole('button', { name: 'PNG' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('selected-runs-loss.png');
  const size = await pngSize(download);
  expect(size.width).toBe(960 * 2 + 2 * 32);
  expect(size.height).toBeGreaterThan(480 * 2 + 100);
  expect(errors).toEqual([]);
});

test('several runs: one legend entry per run, a key for the line styles', async ({ page }) => {
  const errors = await openWithRuns(page);
  for (const r of RUNS) await row(page, r.name).getByTestId('run-select').check();
  const loss = page.getByTestId('overlay-loss-chart');
  const entries = page
    .locator('figure', { has: loss })
    .locator('.u-legend .u-series:not(.no-legend)');
  // The x value plus one entry per run (not raw + smoothed + validation for each: 12).
  await expect(entries).toHaveCount(1 + RUNS.length);
  const labels = await entries.locator('.u-label').allTextContents();
  expect(labels.slice(1).sort()).toEqual(RUNS.map((r) => r.name).sort());
  await expect(page.getByTestId('overlay-loss-chart-key')).toContainText('dashed with points');
  // Every legend entry is one line (no wrapping inside an entry).
  for (const box of await entries.evaluateAll((els) =>
    els.map((e) => (e as HTMLElement).getBoundingClientRect().height),
  ))
    expect(box).toBeLessThan(30);
  expect(errors).toEqual([]);
});

test('an empty chart draws no axes behind its placeholder', async ({ page }) => {
  await page.goto('/#tab=train');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByText('The loss appears here after the first step.')).toBeVisible();
  // The plot (axes, grid) is hidden while there is nothing to plot.
  await expect(page.getByTestId('loss-chart')).toBeHidden();
  await expect(page.getByTestId('dynamics-lr')).toBeHidden();
  await expect(page.getByText('Appears after the first evaluation.')).toBeVisible();
});
