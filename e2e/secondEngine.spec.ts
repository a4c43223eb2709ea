import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '../src/data/safetensors';
import { encodePng } from './png';

// The second engine (issue 16, item 2) in Chromium (WebGPU on SwiftShader): the loaded model
// also run on this project's WGSL kernels, from the ONNX file's own initializers, beside
// onnxruntime-web. ml-aim's fixture (exported by `npm run export`, loaded from disk) gives
// ml-aim's logits on both engines within 1e-4; a real picture shows both top-5, the largest
// |Δ logits|, both latencies, the probe's attention (and a chosen patch's similarity); the
// presenter view quotes our engine's latency; and a run trained in the tab (no probe: k-NN
// classes) is compared on its features.

const FIXTURE = 'test/fixtures/aim-v1-tiny-public';
const MODELS = mkdtempSync(join(tmpdir(), 'aim-second-engine-'));
const MODEL_DIR = join(MODELS, 'fp32');

test.beforeAll(() => {
  execFileSync('node', ['scripts/export.mjs', FIXTURE, '--format', 'fp32', '--out', MODEL_DIR], {
    stdio: 'pipe',
  });
});
test.afterAll(() => rmSync(MODELS, { recursive: true, force: true }));

function stripes(width = 45, height = 30, shift = 0) {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      rgb[i] = (x * 11 + y * 3 + shift) % 256;
      rgb[i + 1] = (y * 17 + shift) % 256;
      rgb[i + 2] = ((x - 22) ** 2 + (y - 15) ** 2) % 256;
    }
  return encodePng(width, height, rgb, 3);
}

async function classify(page: Page, name: string, png: Buffer | Uint8Array) {
  await page
    .getByTestId('classify-input')
    .setInputFiles({ name, mimeType: 'image/png', buffer: Buffer.from(png) });
}

test('the fixture on both engines: ml-aim’s logits, top-5, |Δ|, latencies, attention, presenter', async ({
  page,
}) => {
  test.setTimeout(400_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto('/#tab=inference');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('inference-env')).toBeVisible({ timeout: 60_000 });
  await page
    .getByTestId('model-files')
    .setInputFiles([join(MODEL_DIR, 'model.onnx'), join(MODEL_DIR, 'model.onnx.data_0')]);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('loaded-backend')).toHaveAttribute('data-backend', 'webgpu', {
    timeout: 120_000,
  });

  // The page: turn the second engine on, then classify a picture.
  await classify(page, 'stripes.png', stripes());
  await expect(page.getByTestId('top-classes').locator('li')).toHaveCount(5);
  // Planned before anything is allocated: it fits, and what it would take.
  await expect(page.getByTestId('engine-plan')).toContainText(
    /would allocate \d.* (KiB|MiB).*largest tensor trunk\.blocks\.\d\.mlp\.fc\d\.weight/,
  );
  await page.getByTestId('engine-toggle').check();
  const comparison = page.getByTestId('engine-comparison');
  await expect(comparison).toHaveAttribute('data-image', 'stripes.png', { timeout: 120_000 });
  await expect(page.getByTestId('engine-top-onnx').locator('li')).toHaveCount(5);
  await expect(page.getByTestId('engine-top-wgsl').locator('li')).toHaveCount(5);
  const indices = (id: string) =>
    page
      .getByTestId(id)
      .locator('li')
      .evaluateAll((lis) => lis.map((li) => Number(li.getAttribute('data-class-index'))));
  expect(await indices('engine-top-wgsl')).toEqual(await indices('engine-top-onnx'));
  // The page's own top-5 (onnxruntime's classify) is the same ranking.
  expect(await indices('top-classes')).toEqual(await indices('engine-top-onnx'));
  const diff = Number(await page.getByTestId('engine-diff').getAttribute('data-max-abs-diff'));
  expect(diff).toBeGreaterThanOrEqual(0);
  expect(diff).toBeLessThan(1e-4);
  await expect(page.getByTestId('engine-diff')).toContainText('logits');
  await expect(page.getByTestId('engine-latency-wgsl')).toContainText(/first run \d+\.\d ms/);
  await expect(page.getByTestId('engine-latency-onnx')).toContainText(/first run \d+\.\d ms/);

  // The probe's attention over the picture; a chosen patch shows its weight and similarity.
  const map = page.getByTestId('probe-attention-canvas');
  await expect(map).toHaveAttribute('data-mode', 'attention');
  await expect(page.getByTestId('probe-attention-caption')).toContainText('mean of its 4 heads');
  await page.getByTestId('probe-attention-head').selectOption('2');
  await expect(page.getByTestId('probe-attention-caption')).toContainText('head 3');
  const box = (await map.boundingBox())!;
  // Row 2, column 7 of the 8×8 patches.
  await map.click({ position: { x: box.width * (6.5 / 8), y: box.height * (1.5 / 8) } });
  await expect(map).toHaveAttribute('data-mode', 'similarity');
  await expect(page.getByTestId('probe-attention-caption')).toContainText('row 2, column 7');
  await expect(page.getByTestId('probe-attention-patch')).toContainText(/attention weight: \d/);
  await page.getByTestId('engine-panel').scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/second-engine-1280x800.png', fullPage: true });
  await page
    .getByTestId('engine-panel')
    .screenshot({ path: 'e2e-artifacts/second-engine-panel.png' });

  // A second picture: both steady latencies exist now.
  await classify(page, 'stripes2.png', stripes(40, 40, 70));
  await expect(comparison).toHaveAttribute('data-image', 'stripes2.png', { timeout: 60_000 });
  await expect(map).toHaveAttribute('data-mode', 'attention');
  await expect(page.getByTestId('engine-latency-wgsl')).toContainText(/steady \d+\.\d ms/);

  // Phone width: no sideways scroll.
  await page.setViewportSize({ width: 390, height: 800 });
  const sideways = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(sideways).toBe(0);
  const panel = (await page.getByTestId('engine-panel').boundingBox())!;
  expect(panel.x + panel.width).toBeLessThanOrEqual(390);
  await page
    .getByTestId('engine-panel')
    .screenshot({ path: 'e2e-artifacts/second-engine-390.png' });

  // The presenter view quotes our engine's latency beside onnxruntime's.
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.getByTestId('present').click();
  await expect(page.getByTestId('presenter-top').locator('li')).toHaveCount(5, {
    timeout: 60_000,
  });
  await expect(page.getByTestId('presenter-wgsl-latency')).toContainText(/first run \d/, {
    timeout: 60_000,
  });
  await page.screenshot({ path: 'e2e-artifacts/second-engine-presenter-1280x720.png' });

  // ml-aim's own preprocessed batch through both engines (last: the diagnostics' runs would
  // otherwise be the page's first ones).
  const cases = SafetensorsFile.parse(readFileSync(join(FIXTURE, 'cases.safetensors')));
  const want = cases.float32('logits');
  const got = await page.evaluate(
    async (images) => {
      const x = new Float32Array(images);
      const onnx = await window.__aimInference!.runBatch(x, [2, 3, 32, 32]);
      const ours = await window.__aimInference!.runWgslBatch(x, 2);
      return {
        onnx: Array.from(onnx.outputs.logits.data),
        ours: Array.from(ours.logits!),
        attention: Array.from(ours.attention!),
      };
    },
    Array.from(cases.float32('input')),
  );
  const worst = (a: number[], b: ArrayLike<number>) =>
    Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  expect(got.ours).toHaveLength(want.length);
  expect(worst(got.onnx, want)).toBeLessThan(1e-4);
  expect(worst(got.ours, want)).toBeLessThan(1e-4);
  // Attention [2 images, 4 heads, 64 patches]: each head's weights sum to 1.
  expect(got.attention).toHaveLength(2 * 4 * 64);
  for (let m = 0; m < 8; m++) {
    const sum = got.attention.slice(m * 64, (m + 1) * 64).reduce((a, v) => a + v, 0);
    expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
  }

  expect(errors).toEqual([]);
});

test('a run trained in the tab: both engines’ features and k-NN classes', async ({ page }) => {
  test.setTimeout(400_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(
    '/#tab=train&preset=aim-micro&steps=3&batch=4&evalEvery=3&evalImages=8&chunks=4&checkpointEvery=1&seed=5',
  );
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await page.getByTestId('train').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-phase', 'finished', {
    timeout: 180_000,
  });
  await page.getByRole('tab', { name: 'Inference' }).click();
  await expect
    .poll(
      () =>
        page.evaluate(async () => {
          const w = window as unknown as { __aimRuns?: { savedRuns?: () => Promise<string[]> } };
          return (await w.__aimRuns?.savedRuns?.())?.length ?? -1;
        }),
      { timeout: 30_000 },
    )
    .not.toBe(0);
  await page.getByTestId('load-run').click();
  await expect(page.getByTestId('loaded-backend')).toHaveAttribute('data-backend', 'webgpu', {
    timeout: 120_000,
  });
  await expect(page.getByTestId('knn-probe')).toContainText('Fashion-MNIST', { timeout: 180_000 });
  await page.getByTestId('engine-toggle').check();
  await classify(page, 'stripes.png', stripes());
  const comparison = page.getByTestId('engine-comparison');
  await expect(comparison).toHaveAttribute('data-image', 'stripes.png', { timeout: 120_000 });
  await expect(page.getByTestId('engine-diff')).toContainText('features');
  const diff = Number(await page.getByTestId('engine-diff').getAttribute('data-max-abs-diff'));
  // Post-trunk-normed features (values ≤ ~4): the bound of test/onnxCrossCheck.test.ts.
  expect(diff).toBeGreaterThanOrEqual(0);
  expect(diff).toBeLessThan(2e-4);
  // Both engines' k-NN classes from the same bank.
  await expect(page.getByTestId('engine-top-wgsl').locator('li')).toHaveCount(5);
  const names = (id: string) => page.getByTestId(id).locator('.class-name').allTextContents();
  expect(await names('engine-top-wgsl')).toEqual(await names('engine-top-onnx'));
  // No probe: the map starts on the centre patch's feature similarity.
  await expect(page.getByTestId('probe-attention-canvas')).toHaveAttribute(
    'data-mode',
    'similarity',
  );
  await page
    .getByTestId('engine-panel')
    .screenshot({ path: 'e2e-artifacts/second-engine-run.png' });
  expect(errors).toEqual([]);
});
