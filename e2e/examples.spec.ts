import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_IMAGES } from '../src/ui/inference/exampleImages';

// Issue 16, items 3 and 4: the example photos are in the Inference tab from the first load,
// each with its credit and saying what to load first; with the ml-aim fixture exported and
// loaded from disk, one click classifies a photo; the presenter view fits 1280×720 without
// scrolling, the arrow keys step through the photos (each classified) and Escape leaves.

const FIXTURE = 'test/fixtures/aim-v1-tiny-public';
const MODELS = mkdtempSync(join(tmpdir(), 'aim-examples-e2e-'));
const MODEL_DIR = join(MODELS, 'fp32');

test.beforeAll(() => {
  execFileSync('node', ['scripts/export.mjs', FIXTURE, '--format', 'fp32', '--out', MODEL_DIR], {
    stdio: 'pipe',
  });
});

test.afterAll(() => rmSync(MODELS, { recursive: true, force: true }));

/** Whether the document (not an inner box) can scroll, either way. */
function documentScrolls(page: Page) {
  return page.evaluate(() => {
    const d = document.documentElement;
    return {
      vertical: d.scrollHeight > d.clientHeight,
      horizontal: d.scrollWidth > d.clientWidth,
    };
  });
}

/** Whether an element's own content overflows it (the presenter must not need its own scrollbar). */
function overflows(page: Page, testId: string) {
  return page.getByTestId(testId).evaluate((e) => ({
    vertical: e.scrollHeight > e.clientHeight,
    horizontal: e.scrollWidth > e.clientWidth,
  }));
}

test('example photos from the first load; one click classifies; the presenter view', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=inference');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('inference-env')).toBeVisible({ timeout: 60_000 });

  // First load, no model: every photo shown (decoded, not a broken image) with its credit,
  // and the panel says what to load; nothing can be clicked yet.
  const examples = page.getByTestId('example');
  await expect(examples).toHaveCount(EXAMPLE_IMAGES.length);
  for (const [i, example] of EXAMPLE_IMAGES.entries()) {
    const image = examples.nth(i).locator('img');
    await expect(image).toHaveAttribute('alt', example.title);
    await expect
      .poll(() => image.evaluate((e: HTMLImageElement) => e.complete && e.naturalWidth))
      .toBeGreaterThan(0);
    await expect(page.getByTestId('example-credit').nth(i)).toHaveText(example.credit);
    await expect(examples.nth(i)).toBeDisabled();
  }
  await expect(page.getByTestId('examples-hint')).toContainText('Load a model first');
  await expect(page.getByTestId('present')).toBeDisabled();
  await page.screenshot({ path: 'e2e-artifacts/examples-first-load-1280x720.png' });

  // The fixture's export, from disk.
  await page
    .getByTestId('model-files')
    .setInputFiles([join(MODEL_DIR, 'model.onnx'), join(MODEL_DIR, 'model.onnx.data_0')]);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('loaded-backend')).toHaveAttribute('data-backend', 'webgpu', {
    timeout: 120_000,
  });
  await expect(page.getByTestId('examples-hint')).toHaveCount(0);

  // One click: the same result panel as a dropped image, for that photo.
  await examples.nth(0).click();
  const result = page.getByTestId('classify-result');
  await expect(result).toContainText(EXAMPLE_IMAGES[0].title, { timeout: 60_000 });
  await expect(page.getByTestId('top-classes').locator('li')).toHaveCount(5);
  await expect(examples.nth(0)).toHaveAttribute('aria-pressed', 'true');
  await page.screenshot({ path: 'e2e-artifacts/examples-classified.png', fullPage: true });
  // The classified picture sits below the drop zone with a gap, never on its border (issue 15,
  // defect 13).
  const zone = await page
    .getByRole('region', { name: 'Run it on an image' })
    .locator('.dropzone')
    .boundingBox();
  const shown = await result.boundingBox();
  expect(zone && shown).toBeTruthy();
  expect(shown!.y).toBeGreaterThanOrEqual(zone!.y + zone!.height + 8);

  // The presenter view: the chosen photo, large, with its top-5, latency and model facts.
  await page.getByTestId('present').click();
  const presenter = page.getByTestId('presenter');
  const image = page.getByTestId('presenter-image');
  await expect(presenter).toBeVisible();
  await expect(image).toHaveAttribute('data-file', EXAMPLE_IMAGES[0].file);
  await expect(page.getByTestId('presenter-top').locator('li')).toHaveCount(5);
  await expect(page.getByTestId('presenter-facts')).toContainText('fp32');
  await expect(page.getByTestId('presenter-facts')).toContainText('WebGPU');
  await expect(page.getByTestId('presenter-latency')).toContainText(/first run \d/);
  // The photo fills most of the projector's height (once it has decoded).
  await expect.poll(async () => (await image.boundingBox())?.height ?? 0).toBeGreaterThan(400);
  expect(await documentScrolls(page)).toEqual({ vertical: false, horizontal: false });
  expect(await overflows(page, 'presenter')).toEqual({ vertical: false, horizontal: false });
  await page.screenshot({ path: 'e2e-artifacts/presenter-1280x720.png' });

  // → classifies the next photo; a second classification gives the steady latency.
  await page.keyboard.press('ArrowRight');
  await expect(image).toHaveAttribute('data-file', EXAMPLE_IMAGES[1].file);
  await expect(page.getByTestId('presenter-latency')).toContainText(/steady \d.* \(median of 1\)/, {
    timeout: 60_000,
  });
  await expect(page.getByTestId('presenter-top').locator('li')).toHaveCount(5);
  // ← twice wraps round to the last photo.
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  const last = EXAMPLE_IMAGES.at(-1)!;
  await expect(image).toHaveAttribute('data-file', last.file);
  await expect(presenter).toContainText(last.credit);
  // The photo on screen is the one classified, even after steps made during a run (the top-5
  // is shown only for the photo on screen).
  await expect(page.getByTestId('presenter-top').locator('li')).toHaveCount(5, {
    timeout: 60_000,
  });

  await page.setViewportSize({ width: 1280, height: 800 });
  expect(await documentScrolls(page)).toEqual({ vertical: false, horizontal: false });
  await page.screenshot({ path: 'e2e-artifacts/presenter-1280x800.png' });
  // A phone: the view stacks (it may scroll inside itself, but never sideways).
  await page.setViewportSize({ width: 390, height: 844 });
  expect((await overflows(page, 'presenter')).horizontal).toBe(false);
  await page.screenshot({ path: 'e2e-artifacts/presenter-390.png' });

  await page.keyboard.press('Escape');
  await expect(presenter).toHaveCount(0);
  await expect(examples).toHaveCount(EXAMPLE_IMAGES.length);
  expect((await documentScrolls(page)).horizontal).toBe(false);
  await page.screenshot({ path: 'e2e-artifacts/examples-390.png', fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });
  expect(errors).toEqual([]);
});

test('the production build ships the example photos and their licences', () => {
  // dist/ is `npx vite build` (scripts/test.mjs makes it before the browser tests).
  for (const build of ['dist', 'dist-test']) {
    expect(existsSync(build), `${build}/ is missing: build it first`).toBe(true);
    const licences = readFileSync(join(build, 'examples', 'README.md'), 'utf8');
    for (const e of EXAMPLE_IMAGES) {
      const shipped = readFileSync(join(build, 'examples', e.file));
      expect(shipped.equals(readFileSync(join('public', 'examples', e.file))), e.file).toBe(true);
      expect(licences).toContain(e.file);
    }
  }
});
