import { expect, test, type Download, type Locator, type Page } from '@playwright/test';
import { importRuns } from './importRuns';
import { defaultsFor } from '../src/training/settings';

// Issue 14, "Per-patch views": the validation loss per patch on the image grid for each run
// (image space and sequence order, with a legend), the difference of two runs on the same grid,
// and their PNG exports with a caption. Runs come from an export file (no training): aim-micro
// has a 4×4 grid, 16 patches, so 15 predicted positions.

const micro = { ...defaultsFor('aim-micro'), steps: 3, prefix: false };

function fakeRun(
  id: string,
  name: string,
  createdAt: number,
  settings: Record<string, unknown>,
  positionLoss?: number[],
  dataset: Record<string, unknown> = { kind: 'procedural', size: 16 },
) {
  return {
    id,
    name,
    createdAt: Date.parse('2026-01-01T00:00:00Z') + createdAt,
    colour: '#0072b2',
    settings,
    dataset,
    phase: 'finished',
    step: 3,
    metrics: [1, 2, 3].map((step) => ({
      step,
      trainLoss: 1 - step * 0.1,
      lr: 0.001,
      gradNorm: 1,
      stepMs: 100,
      imgPerSec: 4,
    })),
    evals: [
      { step: 3, valLoss: 0.8, chunkLoss: [1, 0.9], ...(positionLoss ? { positionLoss } : {}) },
    ],
  };
}

// Raster: the loss climbs along the sequence, 0.5 at t = 0 to 1.2 at t = 14.
// (Rounded as the trainer rounds: 4 significant digits.)
const rasterLoss = Array.from({ length: 15 }, (_, t) => Number((0.5 + 0.05 * t).toPrecision(4)));
// Spiral: flat 0.8, so raster − spiral changes sign across the grid.
const spiralLoss = Array.from({ length: 15 }, () => 0.8);
const RUNS = [
  fakeRun('raster', 'raster map', 1_000, { ...micro, ordering: 'raster' }, rasterLoss),
  // On Fashion-MNIST: its map lies over a faint validation image.
  fakeRun('spiral', 'spiral map', 2_000, { ...micro, ordering: 'spiral' }, spiralLoss, {
    kind: 'fashion-mnist',
  }),
  // Recorded before per-position losses existed.
  fakeRun('old', 'old record', 3_000, { ...micro, ordering: 'checkerboard' }),
  fakeRun(
    'tiny',
    'tiny map',
    4_000,
    { ...defaultsFor('aim-tiny'), steps: 3 },
    Array.from({ length: 63 }, (_, t) => 1 - t / 100),
  ),
];

async function openWithRuns(page: Page) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=runs');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await importRuns(page, RUNS);
  await expect(page.getByTestId('run-row')).toHaveCount(RUNS.length);
  return errors;
}

const row = (page: Page, name: string) =>
  page.getByTestId('run-row').filter({ has: page.getByText(name, { exact: true }) });

/** The canvas pixel (RGB) at the centre of grid cell (row, col). */
async function cellColour(canvas: Locator, r: number, c: number): Promise<number[]> {
  return canvas.evaluate(
    (el, [r, c]) => {
      const cv = el as HTMLCanvasElement;
      const ratio = cv.width / cv.getBoundingClientRect().width;
      const cell = Number(cv.dataset.cellPx) * ratio;
      const px = cv
        .getContext('2d')!
        .getImageData(Math.floor((c + 0.5) * cell), Math.floor((r + 0.5) * cell), 1, 1).data;
      return [px[0], px[1], px[2]];
    },
    [r, c],
  );
}

/** Dark (text) pixels in the exported PNG's caption band, counted in the page. */
async function captionInk(page: Page, download: Download): Promise<number> {
  const bytes = Buffer.concat(await (await download.createReadStream()).toArray());
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  return page.evaluate(async (b64) => {
    const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
    const bitmap = await createImageBitmap(blob);
    const c = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = c.getContext('2d')!;
    g.drawImage(bitmap, 0, 0);
    // Caption band: 16 px padding + 24 px title, one 16 px line, at 2×.
    const band = g.getImageData(0, 80, bitmap.width, 32).data;
    let ink = 0;
    for (let i = 0; i < band.length; i += 4) if (band[i] + band[i + 1] + band[i + 2] < 450) ink++;
    return ink;
  }, bytes.toString('base64'));
}

test('per-patch loss: one map, two and their difference, PNG with caption, old record', async ({
  page,
}) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const errors = await openWithRuns(page);
  await row(page, 'raster map').getByTestId('run-select').check();
  const maps = page.getByTestId('patch-loss-map');
  await expect(maps).toHaveCount(1);
  const canvas = maps.first().getByTestId('patch-loss-canvas');
  await expect(canvas).toHaveAttribute('data-min', '0.5');
  await expect(canvas).toHaveAttribute('data-max', '1.2');
  await expect(canvas).toHaveAttribute('data-grid', '4');
  await expect(canvas).toHaveAttribute('data-first-patch', '0');
  // Raster: patch p holds position p − 1; the first patch is never predicted.
  const cells = (await canvas.getAttribute('data-cells'))!.split(',');
  expect(cells).toHaveLength(16);
  expect(cells[0]).toBe('none');
  expect(cells.slice(1).map(Number)).toEqual(rasterLoss.map((v) => Number(v.toPrecision(4))));
  await expect(maps.first()).toContainText('never predicted');
  // Lowest loss (patch 1) dark purple, highest (patch 15) yellow, first patch grey.
  const low = await cellColour(canvas, 0, 1);
  const high = await cellColour(canvas, 3, 3);
  expect(low[2]).toBeGreaterThan(low[1]);
  expect(high[0] + high[1]).toBeGreaterThan(400);
  expect(Math.abs(low[0] - high[0]) + Math.abs(low[1] - high[1])).toBeGreaterThan(200);
  const first = await cellColour(canvas, 0, 0);
  expect(Math.max(...first) - Math.min(...first)).toBeLessThan(10);
  // Hover reads a cell's number (row 1, column 2 holds position 0: 0.5).
  await canvas.hover({ position: { x: 90, y: 30 } });
  await expect(maps.first()).toContainText('Row 1, column 2: 0.5');
  await canvas.hover({ position: { x: 30, y: 30 } });
  await expect(maps.first()).toContainText('Row 1, column 1: not predicted');

  const caption = await maps.first().getAttribute('data-caption');
  expect(caption).toContain('raster map');
  expect(caption).toContain('raster ordering');
  expect(caption).toContain('causal attention');
  expect(caption).toContain('step 3');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    maps.first().getByRole('button', { name: 'PNG' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('raster-map-patch-loss-step-3.png');
  await download.saveAs('e2e-artifacts/patch-loss-export.png');
  expect(await captionInk(page, download)).toBeGreaterThan(200);
  await maps.first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/patch-loss-one-1280.png' });

  // Two runs on the same grid: two maps and their difference A − B.
  await row(page, 'spiral map').getByTestId('run-select').check();
  await expect(maps).toHaveCount(2);
  const diff = page.getByTestId('patch-loss-difference');
  await expect(diff).toHaveCount(1);
  const diffCanvas = diff.getByTestId('patch-loss-canvas');
  await expect(diffCanvas).toHaveAttribute('data-kind', 'diverging');
  const dCells = (await diffCanvas.getAttribute('data-cells'))!.split(',');
  // Not predicted by raster (patch 0) or by spiral (patch 6, its first): no difference.
  expect(dCells[0]).toBe('none');
  expect(dCells[6]).toBe('none');
  expect(Number(dCells[1])).toBeCloseTo(0.5 - 0.8, 4);
  expect(Number(dCells[15])).toBeCloseTo(1.2 - 0.8, 4);
  expect(Number(await diffCanvas.getAttribute('data-max'))).toBeCloseTo(0.4, 4);
  expect(Number(await diffCanvas.getAttribute('data-min'))).toBeCloseTo(-0.4, 4);
  // Raster better at patch 1 (blue), worse at patch 15 (red).
  const better = await cellColour(diffCanvas, 0, 1);
  const worse = await cellColour(diffCanvas, 3, 3);
  expect(better[2]).toBeGreaterThan(better[0]);
  expect(worse[0]).toBeGreaterThan(worse[2]);
  const diffCaption = await diff.getAttribute('data-caption');
  expect(diffCaption).toContain('A = raster map');
  expect(diffCaption).toContain('B = spiral map');
  const [diffPng] = await Promise.all([
    page.waitForEvent('download'),
    diff.getByRole('button', { name: 'PNG' }).click(),
  ]);
  expect(diffPng.suggestedFilename()).toBe('raster-map-minus-spiral-map-patch-loss.png');
  await diffPng.saveAs('e2e-artifacts/patch-loss-difference-export.png');
  expect(await captionInk(page, diffPng)).toBeGreaterThan(200);
  await diff.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/patch-loss-two-1280.png' });
  await page.setViewportSize({ width: 390, height: 800 });
  await diff.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/patch-loss-two-390.png' });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.setViewportSize({ width: 1280, height: 800 });

  // Different grids: no difference map, a sentence.
  await row(page, 'spiral map').getByTestId('run-select').uncheck();
  await row(page, 'tiny map').getByTestId('run-select').check();
  await expect(page.getByTestId('patch-loss-difference')).toHaveCount(0);
  await expect(page.getByTestId('patch-loss-difference-missing')).toContainText(
    'different patch grids (4×4 and 8×8)',
  );
  await expect(page.getByTestId('patch-loss-canvas').nth(1)).toHaveAttribute('data-grid', '8');

  // A record without per-position losses: a sentence, not an empty canvas.
  await page.getByRole('button', { name: 'Clear selection' }).click();
  await row(page, 'old record').getByTestId('run-select').check();
  await expect(page.getByTestId('patch-loss-canvas')).toHaveCount(0);
  await expect(page.getByTestId('patch-loss-map-missing')).toContainText(
    'recorded without per-patch losses',
  );
  expect(errors).toEqual([]);
});

test('per-patch loss: the Train view maps the run it shows', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const errors = await openWithRuns(page);
  await row(page, 'spiral map').getByRole('button', { name: 'Load settings' }).click();
  const view = page.getByTestId('train-view');
  await expect(view).toBeVisible();
  const map = view.getByTestId('patch-loss-map');
  await expect(map).toHaveCount(1);
  await expect(map).toHaveAttribute('data-caption', /spiral map · aim-micro, spiral ordering/);
  // Spiral's first patch (ml-l3m: raster index 6 on 4×4) is the hatched one.
  await expect(map.getByTestId('patch-loss-canvas')).toHaveAttribute('data-first-patch', '6');
  await expect(map).toContainText('row 2, column 3');
  await map.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/patch-loss-train-1280.png' });
  await page.setViewportSize({ width: 390, height: 800 });
  await map.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/patch-loss-train-390.png' });
  expect(errors).toEqual([]);
});
