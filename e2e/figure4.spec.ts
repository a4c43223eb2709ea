import { expect, test, type Locator, type Page } from '@playwright/test';
import { importRuns } from './importRuns';
import { defaultsFor } from '../src/training/settings';

// Loss beside accuracy (the paper's Figure 4; issue 14). A real aim-micro run on the embedded
// Fashion-MNIST subset, probed after each of its 2 steps (16 probe images, 8 held-out: the probes
// are small so the spec stays short), shows its probe points in the Train view's chart; two
// imported runs that probed join it on the Runs tab's scatter, one point per run, each named
// on hover and linked to its row. Screenshots at 1280×800 and 390 px wide.
const LINK =
  '/#tab=train&preset=aim-micro&steps=2&batch=4&evalEvery=100&evalImages=8&chunks=4&checkpointEvery=0&seed=3&probeEvery=1&probeImages=16';

function probedRun(id: string, name: string, createdAt: number, valLoss: number, top1: number) {
  const probe = (step: number, loss: number, acc: number) => ({
    step,
    valLoss: loss,
    linear: acc,
    attentive: acc + 6,
    linearTrain: acc + 10,
    attentiveTrain: acc + 15,
    trainImages: 256,
    heldOutImages: 64,
    layers: 1,
    epochs: 5,
    seconds: 3,
  });
  return {
    id,
    name,
    createdAt: Date.parse('2026-01-01T00:00:00Z') + createdAt,
    colour: createdAt === 1 ? '#d55e00' : '#cc79a7',
    settings: { ...defaultsFor('aim-micro'), steps: 20, probeEvery: 10 },
    dataset: { kind: 'fashion-mnist' },
    phase: 'finished',
    step: 20,
    metrics: [10, 20].map((step) => ({
      step,
      trainLoss: valLoss,
      lr: 0.001,
      gradNorm: 1,
      stepMs: 900,
      imgPerSec: 4,
    })),
    evals: [
      { step: 10, valLoss: valLoss + 0.1, chunkLoss: [1, 0.9] },
      { step: 20, valLoss, chunkLoss: [1, 0.9] },
    ],
    probes: [probe(10, valLoss + 0.1, top1 - 8), probe(20, valLoss, top1)],
  };
}

async function shoot(page: Page, el: Locator, name: string) {
  for (const [width, height] of [
    [1280, 800],
    [390, 844],
  ]) {
    await page.setViewportSize({ width, height });
    await el.scrollIntoViewIfNeeded();
    await el.screenshot({ path: `e2e-artifacts/figure4-${name}-${width}.png` });
    // Nothing on the page is wider than a phone's screen.
    if (width === 390)
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        390,
      );
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

test('probes during a run: the Train chart and the Runs scatter', async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(LINK);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('probe-every')).toHaveValue('1');
  await expect(page.getByTestId('probe-images')).toHaveValue('16');
  // The two settings sit under "More settings", each with its help.
  await page.getByText('More settings').click();
  await page.getByTestId('probe-every-help').click();
  await expect(page.getByTestId('probe-every-help-text')).toContainText('Training waits');
  await shoot(
    page,
    page.getByTestId('probe-every').locator('xpath=ancestor::section[1]'),
    'settings',
  );
  await page.getByTestId('train').click();

  // The chart is there from the start, saying the run waits while it probes.
  const curves = page.getByTestId('probe-curves');
  await expect(curves).toBeVisible();
  await expect(page.getByTestId('probe-note')).toContainText('training waits');
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-phase', 'finished', {
    timeout: 200_000,
  });
  // Probes at steps 1 and 2, beside the validation loss of the same steps.
  await expect(curves).toHaveAttribute('data-probes', '2');
  await expect(page.getByTestId('probe-accuracy-chart')).toHaveAttribute(
    'data-series',
    'linear probe,attentive probe',
  );
  await expect(page.getByTestId('probe-loss-chart')).toHaveAttribute('data-points', '2');
  await expect(page.getByTestId('probe-loss-chart')).toHaveAttribute(
    'data-caption',
    /probes: 16 training \/ 8 held-out images, 5 epochs/,
  );
  await expect(page.getByTestId('probe-last')).toContainText('Step 2: validation loss');
  await expect(page.getByTestId('probing-now')).toHaveCount(0);
  await shoot(page, curves, 'train');

  // The Runs tab: this run's final probe and two imported runs, one point each.
  await page.getByTestId('tab-runs').click();
  await importRuns(page, [
    probedRun('probed-a', 'imported A', 1, 0.62, 41),
    probedRun('probed-b', 'imported B', 2, 0.55, 47),
  ]);
  const scatter = page.getByTestId('probe-scatter');
  await expect(scatter).toHaveAttribute('data-points', '3');
  await expect(scatter.locator('path[data-kind="linear"]')).toHaveCount(3);
  await expect(scatter.locator('path[data-kind="attentive"]')).toHaveCount(3);
  await scatter.locator('path[data-run-id="probed-b"][data-kind="attentive"]').hover();
  await expect(page.getByTestId('probe-scatter-hover')).toHaveText(
    'imported B: attentive probe 53.0 %, validation loss 0.55 at step 20',
  );
  await expect(page.getByTestId('probe-scatter-runs')).toContainText('imported A');
  await shoot(page, page.locator('section', { has: scatter }), 'runs-scatter');

  // The PNG export: the plot with a title, the runs named in the caption, and a key.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page
      .getByRole('figure', { name: 'Loss against probe accuracy chart' })
      .getByRole('button', { name: 'PNG' })
      .click(),
  ]);
  expect(download.suggestedFilename()).toBe('runs-loss-vs-probe-top1.png');
  await download.saveAs('e2e-artifacts/figure4-scatter-export.png');
  const png = Buffer.concat(await (await download.createReadStream()).toArray());
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  expect(png.length).toBeGreaterThan(10_000);

  // Each run's name links to its row in the table.
  await page.getByTestId('probe-scatter-runs').getByText('imported A').click();
  await expect(page.locator('tr[data-run-id="probed-a"]')).toHaveAttribute('data-focused', 'true');
  expect(page.url()).toContain('run=probed-a');
  expect(errors).toEqual([]);
});
