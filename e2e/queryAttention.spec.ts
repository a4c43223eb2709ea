import { expect, test, type Locator, type Page } from '@playwright/test';
import { patchOrder } from '../src/model/orderings';
import { defaultsFor } from '../src/training/settings';
import { importRuns } from './importRuns';

// Issue 14, "Per-patch views": the model's attention for a chosen query patch under the prefix
// mask. A short aim-micro run (spiral ordering, so image space differs from sequence order) is
// trained through the UI on SwiftShader; in the Runs tab its checkpoint's attention is
// computed in the worker (float64 reference trunk), a click picks the query, the mask, block
// and head change it, and the PNG downloads with its caption. aim-micro: 4×4 = 16 patches,
// 2 blocks, 2 heads.
const LINK =
  '/#tab=train&preset=aim-micro&data=procedural&steps=3&batch=4&evalEvery=3&evalImages=8&chunks=4&checkpointEvery=1&seed=5&ordering=spiral';

interface CanvasState {
  query: number;
  position: number;
  prefix: number;
  order: number[];
  cells: number[];
  attended: boolean[];
}

async function state(canvas: Locator): Promise<CanvasState> {
  const d = await canvas.evaluate((el) => ({ ...(el as HTMLCanvasElement).dataset }));
  return {
    query: Number(d.query),
    position: Number(d.queryPosition),
    prefix: Number(d.prefix),
    order: d.order!.split(',').map(Number),
    cells: d.cells!.split(',').map(Number),
    attended: [...d.attended!].map((c) => c === '1'),
  };
}

/** The row sums to 1 over exactly the patches the prefix-causal mask lets the query see. */
function expectMaskedRow(s: CanvasState) {
  const visible = new Set(s.order.slice(0, Math.max(s.prefix, s.position + 1)));
  s.cells.forEach((p, patch) => {
    expect(s.attended[patch], `patch ${patch}`).toBe(visible.has(patch));
    if (visible.has(patch)) expect(p).toBeGreaterThan(0);
    else expect(p).toBe(0);
  });
  expect(Math.abs(s.cells.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
}

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

async function clickCell(canvas: Locator, r: number, c: number) {
  const cell = Number(await canvas.getAttribute('data-cell-px'));
  await canvas.click({ position: { x: (c + 0.5) * cell, y: (r + 0.5) * cell } });
}

async function trainRun(page: Page) {
  await page.goto(LINK);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await page.getByTestId('train').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-phase', 'finished', {
    timeout: 180_000,
  });
  // The run's last checkpoint is written just after it finishes.
  await expect
    .poll(
      () =>
        page.evaluate(async () => {
          const w = window as unknown as { __aimRuns?: { savedRuns?: () => Promise<string[]> } };
          return (await w.__aimRuns?.savedRuns?.())?.length ?? -1;
        }),
      { timeout: 30_000 },
    )
    .toBeGreaterThan(0);
}

test('query attention: click a patch, change the mask, block and head, export PNG', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 800 });
  await trainRun(page);

  await page.getByTestId('tab-runs').click();
  const select = page.getByTestId('run-row').first().getByTestId('run-select');
  if (!(await select.isChecked())) await select.click();
  await page.getByTestId('query-attention-open').click();
  const view = page.getByTestId('query-attention');
  const canvas = view.getByTestId('query-attention-canvas');
  await expect(canvas).toBeVisible({ timeout: 60_000 });
  await expect(canvas).toHaveAttribute('data-grid', '4');
  await expect(view.getByTestId('query-attention-picture')).toBeVisible();
  // The run trained with a prefix: the view opens with S drawn from U{1 … 15}, last block.
  let s = await state(canvas);
  expect(s.prefix).toBeGreaterThanOrEqual(1);
  expect(s.prefix).toBeLessThanOrEqual(15);
  const spiral = patchOrder('spiral', 4, 4);
  expect(s.order).toEqual(spiral);
  const cellOf = (t: number) => [Math.floor(spiral[t] / 4), spiral[t] % 4] as const;
  await expect(canvas).toHaveAttribute('data-block', '1');
  await expect(canvas).toHaveAttribute('data-head', 'mean');
  expectMaskedRow(s);

  // Causal, and the query at the spiral's last patch (row 1, column 1): it sees every patch.
  await view.getByTestId('query-attention-mask').selectOption('causal');
  await expect(canvas).toHaveAttribute('data-prefix', '1');
  await clickCell(canvas, ...cellOf(15));
  await expect(canvas).toHaveAttribute('data-query', String(spiral[15]));
  s = await state(canvas);
  expect(s.position).toBe(15);
  expect(s.attended.every(Boolean)).toBe(true);
  expectMaskedRow(s);
  // The spiral's position 8 (row 3, column 4): the 7 patches after it are masked.
  await clickCell(canvas, ...cellOf(8));
  await expect(canvas).toHaveAttribute('data-query', String(spiral[8]));
  s = await state(canvas);
  expect(s.position).toBe(8);
  expect(s.attended.filter((a) => !a)).toHaveLength(7);
  expectMaskedRow(s);
  // A masked cell is drawn hatched grey and says so on hover.
  const masked = s.attended.findIndex((a) => !a);
  const [mr, mg, mb] = await cellColour(canvas, Math.floor(masked / 4), masked % 4);
  expect(Math.max(mr, mg, mb) - Math.min(mr, mg, mb)).toBeLessThan(12);
  const cellPx = Number(await canvas.getAttribute('data-cell-px'));
  await canvas.hover({
    position: { x: ((masked % 4) + 0.8) * cellPx, y: (Math.floor(masked / 4) + 0.5) * cellPx },
  });
  await expect(view).toContainText('masked, not attended under causal (S = 1)');

  // A prefix of 12: the query at position 8 now sees the first 12 patches of the spiral.
  await view.getByTestId('query-attention-mask').selectOption('prefix');
  await view.getByTestId('query-attention-prefix').fill('12');
  await expect(canvas).toHaveAttribute('data-prefix', '12');
  s = await state(canvas);
  expect(s.attended.filter(Boolean)).toHaveLength(12);
  expectMaskedRow(s);
  const meanRow = s.cells;

  // Head 2 of block 1: another row, still a distribution under the same mask.
  await view.getByTestId('query-attention-block').selectOption({ value: '0' });
  await expect(canvas).toHaveAttribute('data-block', '0');
  const blockMean = (await state(canvas)).cells;
  expect(blockMean).not.toEqual(meanRow);
  await view.getByTestId('query-attention-head').selectOption({ value: '1' });
  await expect(canvas).toHaveAttribute('data-head', '1');
  s = await state(canvas);
  expectMaskedRow(s);
  expect(s.cells).not.toEqual(blockMean);

  // Another validation image gives other probabilities.
  await view.getByTestId('query-attention-image').fill('3');
  await expect(canvas).toHaveAttribute('data-image', '2');
  expectMaskedRow(await state(canvas));

  const caption = await canvas.getAttribute('data-caption');
  expect(caption).toContain('spiral ordering');
  expect(caption).toContain('validation image 3');
  expect(caption).toContain('block 1 of 2');
  expect(caption).toContain('head 2 of 2');
  expect(caption).toContain('prefix S = 12');
  expect(caption).toContain('query row 3, column 4 (position 9 of 16)');
  await page.screenshot({ path: 'e2e-artifacts/query-attention-1280.png' });
  await view.screenshot({ path: 'e2e-artifacts/query-attention-view-1280.png' });

  // The PNG: a real image, wider than the on-screen map, with the caption drawn in it.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    view.getByTestId('query-attention-png').click(),
  ]);
  expect(download.suggestedFilename()).toMatch(
    /attention-image-3-block-1-head-2-S-12-query-r3c4\.png$/,
  );
  await download.saveAs('e2e-artifacts/query-attention-export.png');
  const bytes = Buffer.concat(await (await download.createReadStream()).toArray());
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  const { width, ink } = await page.evaluate(async (b64) => {
    const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
    const bitmap = await createImageBitmap(blob);
    const c = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = c.getContext('2d')!;
    g.drawImage(bitmap, 0, 0);
    // The caption band: below the title (16 px padding + 24 px, at 2×).
    const band = g.getImageData(0, 80, bitmap.width, 32).data;
    let ink = 0;
    for (let i = 0; i < band.length; i += 4) if (band[i] + band[i + 1] + band[i + 2] < 450) ink++;
    return { width: bitmap.width, ink };
  }, bytes.toString('base64'));
  expect(width).toBeGreaterThan(240 * 2);
  expect(ink).toBeGreaterThan(100);

  // The grid in sequence order: cell t is position t; the last cell is the spiral's last patch.
  await view.getByTestId('query-attention-sequence').check();
  await expect(canvas).toHaveAttribute('data-arrangement', 'sequence');
  await clickCell(canvas, 3, 3);
  await expect(canvas).toHaveAttribute('data-query', String(spiral[15]));
  await expect(canvas).toHaveAttribute('data-query-position', '15');

  await page.setViewportSize({ width: 390, height: 844 });
  await view.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/query-attention-390.png' });
  expect(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1),
  ).toBe(true);

  // An imported run carries no weights: the view says so instead of failing.
  await page.setViewportSize({ width: 1280, height: 800 });
  await importRuns(page, [
    {
      id: 'imported-no-weights',
      name: 'imported run',
      createdAt: Date.parse('2026-01-01T00:00:00Z'),
      colour: '#0072b2',
      settings: { ...defaultsFor('aim-micro'), steps: 3 },
      dataset: { kind: 'procedural', size: 16 },
      phase: 'finished',
      step: 3,
      metrics: [],
      evals: [],
    },
  ]);
  const importedRow = page
    .getByTestId('run-row')
    .filter({ has: page.getByText('imported run', { exact: true }) });
  await importedRow.getByTestId('run-select').check();
  await page.getByTestId('query-attention-run').selectOption({ label: 'imported run' });
  await expect(page.getByTestId('query-attention-missing')).toContainText('No checkpoint');
  expect(errors).toEqual([]);
});
