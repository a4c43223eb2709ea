import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { SafetensorsFile } from '../src/data/safetensors';
import { preprocessForAim } from '../src/inference/preprocess';
import { softmax } from '../src/inference/topK';
import { FASHION_MNIST_CLASSES as FASHION_CLASSES } from '../src/data/fashionMnist';
import { encodePng } from './png';

// The Inference tab end to end in Chromium with onnxruntime-web (WebGPU EP on SwiftShader):
// the ml-aim fixture exported by `npm run export`, served cross-origin by a small server
// here, inspected, downloaded with progress, cached in OPFS, run on ml-aim's own inputs and
// on a real PNG; loaded from disk; bad inputs refused with messages and nothing cached; and
// a model trained in the tab exported and loaded in the browser.

const FIXTURE = 'test/fixtures/aim-v1-tiny-public';
const MODELS = mkdtempSync(join(tmpdir(), 'aim-inference-e2e-'));
let server: Server;
let origin = '';
/** Paths the model server was asked for, to prove cached loads need no network. */
const requests: string[] = [];

function exportFixture(format: string, folder = format) {
  const out = join(MODELS, folder);
  rmSync(out, { recursive: true, force: true });
  execFileSync('node', ['scripts/export.mjs', FIXTURE, '--format', format, '--out', out], {
    stdio: 'pipe',
  });
  return out;
}

test.beforeAll(() => {
  exportFixture('fp32');
  exportFixture('int4');
  // A second fp32 export of the same weights: same file sizes, different export id.
  exportFixture('fp32', 'fp32-again');
  // Broken directories: a shard cut short, and a shard from another export.
  for (const [name, shardFrom] of [
    ['truncated', 'fp32'],
    ['mismatched', 'fp32-again'],
  ]) {
    mkdirSync(join(MODELS, name), { recursive: true });
    copyFileSync(join(MODELS, 'fp32', 'model.onnx'), join(MODELS, name, 'model.onnx'));
    const shard = readFileSync(join(MODELS, shardFrom, 'model.onnx.data_0'));
    writeFileSync(
      join(MODELS, name, 'model.onnx.data_0'),
      name === 'truncated' ? shard.subarray(0, shard.length - 1000) : shard,
    );
  }
  writeFileSync(join(MODELS, 'not-a-model.onnx'), encodePng(4, 4, new Uint8Array(48), 3));
});

test.beforeAll(async () => {
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    // A host that answers but sends no CORS header, and one that answers every path with its
    // app page (as a single-page app's server does for files it does not have).
    if (path.startsWith('/no-cors/')) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end('x');
      return;
    }
    if (path.startsWith('/app-page/')) {
      res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>some app</title>');
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(join(MODELS, path.replace(/^\/+/, '').replace(/\.\./g, '')));
    } catch {
      res.writeHead(404, { 'Access-Control-Allow-Origin': '*' });
      res.end();
      return;
    }
    // Another origin, as model hosts are: the page's fetches are CORS requests.
    res.writeHead(200, {
      'Access-Control-Allow-Origin': '*',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.length),
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

test.afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(MODELS, { recursive: true, force: true });
});

async function openInference(page: Page) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=inference');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('inference-env')).toBeVisible({ timeout: 60_000 });
  return errors;
}

async function inspectUrl(page: Page, url: string) {
  await page.getByTestId('model-url').fill(url);
  await page.getByRole('button', { name: 'Inspect' }).click();
}

/** A 45×30 landscape PNG with structure (the crop and the resampling both matter). */
function testImage() {
  const width = 45;
  const height = 30;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      rgb[i] = (x * 11 + y * 3) % 256;
      rgb[i + 1] = (y * 17) % 256;
      rgb[i + 2] = ((x - 22) ** 2 + (y - 15) ** 2) % 256;
    }
  return { width, height, rgb, png: encodePng(width, height, rgb, 3) };
}

test('fixture by URL: plan, download with progress, cache, ml-aim numbers, classify a PNG', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const errors = await openInference(page);
  await expect(page.getByTestId('preset-aim-7B-int4')).toContainText('fits');
  // A row's caveat is written out under the table, not hidden in a tooltip (issue 15, defect 12).
  for (const row of await page.locator('[data-testid^="preset-aim-"]').all()) {
    const text = (await row.textContent()) ?? '';
    const note = text.match(/see note (\d+)/);
    if (note)
      await expect(
        page
          .getByTestId('preset-memory-notes')
          .locator('li')
          .nth(Number(note[1]) - 1),
      ).not.toBeEmpty();
  }

  requests.length = 0;
  await inspectUrl(page, `${origin}/fp32/`);
  const plan = page.getByTestId('model-plan');
  await expect(plan).toBeVisible();
  // Only model.onnx was fetched to plan it; the total is known before the shard moves.
  expect(requests).toEqual(['/fp32/model.onnx']);
  const total =
    readFileSync(join(MODELS, 'fp32', 'model.onnx')).length +
    readFileSync(join(MODELS, 'fp32', 'model.onnx.data_0')).length;
  await expect(page.getByTestId('model-total-bytes')).toContainText('in 2 files');
  expect(total).toBeGreaterThan(0);
  await expect(page.getByTestId('model-facts')).toContainText('logits (10 classes)');
  // A long tensor name wraps at its dots, never inside a word (issue 15, defect 13).
  const largest = page.getByTestId('model-facts').locator('code').filter({ hasText: '.' }).first();
  expect(await largest.locator('wbr').count()).toBeGreaterThan(0);
  expect(await largest.evaluate((e) => getComputedStyle(e).wordBreak)).not.toBe('break-all');

  await page.getByTestId('load-model').click();
  const loaded = page.getByTestId('loaded-backend');
  await expect(loaded).toHaveAttribute('data-backend', 'webgpu', { timeout: 120_000 });
  expect(requests).toContain('/fp32/model.onnx.data_0');
  await expect(page.getByTestId('cached-model')).toHaveCount(1);

  // ml-aim's own preprocessed inputs through the loaded session: logits and probe features.
  const cases = SafetensorsFile.parse(readFileSync(join(FIXTURE, 'cases.safetensors')));
  const input = cases.float32('input');
  const got = await page.evaluate(async (images) => {
    const r = await window.__aimInference!.runBatch(new Float32Array(images), [2, 3, 32, 32]);
    return {
      logits: Array.from(r.outputs.logits.data),
      features: Array.from(r.outputs.features.data),
      backend: r.backend,
    };
  }, Array.from(input));
  expect(got.backend).toBe('webgpu');
  const worst = (a: number[], b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  // Same bound as the onnxruntime-node fixture test (test/onnxExport.test.ts): 1e-4.
  expect(worst(got.logits, cases.float32('logits'))).toBeLessThan(1e-4);
  expect(worst(got.features, cases.float32('probe_features'))).toBeLessThan(1e-4);

  // A real PNG through the page: decode, ml-aim preprocessing, top-5. The expected numbers
  // come from onnxruntime-node on this file preprocessed here in Node.
  const img = testImage();
  const { tensor } = preprocessForAim({ width: img.width, height: img.height, data: img.rgb }, 32);
  const session = await ort.InferenceSession.create(join(MODELS, 'fp32', 'model.onnx'));
  const expected = await session.run({ images: new ort.Tensor('float32', tensor, [1, 3, 32, 32]) });
  await session.release();
  const probs = softmax(expected.logits.data as Float32Array);
  const best = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 5);

  await page.getByTestId('classify-input').setInputFiles({
    name: 'stripes.png',
    mimeType: 'image/png',
    buffer: img.png,
  });
  const top = page.getByTestId('top-classes').locator('li');
  await expect(top).toHaveCount(5);
  const shownIndices = await top.evaluateAll((lis) =>
    lis.map((li) => Number(li.getAttribute('data-class-index'))),
  );
  expect(shownIndices).toEqual(best);
  await expect(top.first()).toContainText(`class ${best[0]}`);
  await expect(top.first()).toContainText(`${(100 * probs[best[0]]).toFixed(1)} %`);
  await expect(page.getByTestId('latency')).toContainText('ms on WebGPU');
  await expect(page.getByTestId('pca-canvas')).toBeVisible();
  await page.screenshot({ path: 'e2e-artifacts/inference-fixture.png', fullPage: true });

  // Next visit: the model loads from the cache, without the network.
  await page.reload();
  await expect(page.getByTestId('cached-model')).toHaveCount(1, { timeout: 60_000 });
  requests.length = 0;
  await page.getByTestId('cached-model').getByRole('button', { name: 'Load' }).click();
  await expect(page.getByTestId('loaded-backend')).toHaveAttribute('data-backend', 'webgpu', {
    timeout: 120_000,
  });
  expect(requests).toEqual([]);
  await page.getByTestId('cached-model').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('cached-model')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('bad inputs: each refused with a message, nothing cached, the page keeps working', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const errors = await openInference(page);
  const notice = page.getByTestId('error-notice');

  await inspectUrl(page, `${origin}/not-a-model.onnx`);
  await expect(notice).toContainText('not-a-model.onnx is not an ONNX model');

  await inspectUrl(page, `${origin}/missing/`);
  await expect(notice).toContainText('404');

  // Each failure names its real cause (issue 15, defect 9): a web page where a file should be
  // is not blamed on the model; a failed cross-origin fetch names both possible causes (the
  // browser cannot tell an unreachable host from missing CORS) and how to tell them apart.
  await inspectUrl(page, `${origin}/app-page/`);
  await expect(notice).toContainText('answered with a web page, not a model file');
  await expect(notice).not.toContainText('is not an ONNX model');
  for (const url of [`${origin}/no-cors/`, 'http://127.0.0.1:9/model.onnx']) {
    await inspectUrl(page, url);
    await expect(notice).toContainText('either the host did not answer');
    await expect(notice).toContainText('if the file downloads, the host is up and CORS');
  }

  await inspectUrl(page, `${origin}/truncated/`);
  await page.getByTestId('load-model').click();
  await expect(notice).toContainText(/model\.onnx\.data_0.*(cut short|truncated)/);

  await inspectUrl(page, `${origin}/mismatched/`);
  await page.getByTestId('load-model').click();
  await expect(notice).toContainText(/different export/);

  // From disk: the model without its data file, then a shard from another export.
  const dir = join(MODELS, 'fp32');
  await page.getByTestId('model-files').setInputFiles([join(dir, 'model.onnx')]);
  await expect(notice).toContainText(/model\.onnx\.data_0 is missing/);
  await page
    .getByTestId('model-files')
    .setInputFiles([join(dir, 'model.onnx'), join(MODELS, 'mismatched', 'model.onnx.data_0')]);
  await expect(notice).toContainText(/different export/);
  await expect(page.getByTestId('cached-models')).toHaveCount(0);

  // Not an image, once a model is loaded (the int4 export, from disk, without caching: the
  // storage quota is pretended full, so the page says it loads from memory).
  await page.evaluate(() => window.__aimInference!.simulateStorageQuota(1000));
  await page
    .getByTestId('model-files')
    .setInputFiles([join(MODELS, 'int4', 'model.onnx'), join(MODELS, 'int4', 'model.onnx.data_0')]);
  await expect(page.getByTestId('model-facts').first()).toContainText('int4');
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('loaded-backend')).toHaveAttribute('data-backend', 'webgpu', {
    timeout: 120_000,
  });
  await expect(page.getByTestId('cache-note')).toContainText('Not cached');
  await expect(page.getByTestId('cached-models')).toHaveCount(0);
  await page.getByTestId('classify-input').setInputFiles({
    name: 'notes.png',
    mimeType: 'image/png',
    buffer: Buffer.from('this is not a picture'),
  });
  await expect(page.getByTestId('error-notice')).toContainText(
    'notes.png could not be read as an image',
  );
  // The user's picture is at fault, not the model (issue 15, defect 7).
  await expect(page.getByTestId('error-notice')).toContainText('This image could not be read.');
  await expect(page.getByTestId('error-notice')).not.toContainText('This model cannot be used');
  // …and the page still classifies a real one.
  await page.getByTestId('classify-input').setInputFiles({
    name: 'stripes.png',
    mimeType: 'image/png',
    buffer: testImage().png,
  });
  await expect(page.getByTestId('top-classes').locator('li')).toHaveCount(5);
  expect(errors).toEqual([]);
});

test('a model trained in the tab: export in the browser, load, run', async ({ page }) => {
  test.setTimeout(300_000);
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
  // The run's last checkpoint is written just after it finishes: wait for it to be stored.
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
  // Loaded, or an error notice: then fail with its technical detail (it failed once in a full
  // run with "Something went wrong", the detail not captured).
  const notice = page.getByTestId('error-notice');
  await expect(page.getByTestId('loaded-backend').or(notice)).toBeVisible({ timeout: 120_000 });
  if (await notice.isVisible())
    throw new Error(`export and load failed: ${await notice.textContent()}`);
  await expect(page.getByTestId('loaded-backend')).toHaveAttribute('data-backend', 'webgpu');
  await expect(page.getByTestId('model-facts').first()).toContainText('next-patch predictions');
  // No classification head: a k-NN probe on the run's Fashion-MNIST images classifies instead,
  // saying how far its fitting has got while it runs (issue 15, defect 12).
  await expect(page.getByTestId('knn-progress')).toContainText(/of 1,200 embedded/, {
    timeout: 60_000,
  });
  const knn = page.getByTestId('knn-probe');
  await expect(knn).toContainText('1,000 Fashion-MNIST', { timeout: 120_000 });
  const accuracy = Number((await knn.locator('strong').textContent())?.replace(' %', ''));
  // 3 steps of training are not much; the number must still be a real accuracy.
  expect(accuracy).toBeGreaterThan(0);
  expect(accuracy).toBeLessThanOrEqual(100);
  await page.getByTestId('classify-input').setInputFiles({
    name: 'stripes.png',
    mimeType: 'image/png',
    buffer: testImage().png,
  });
  await expect(page.getByTestId('classify-result')).toContainText('k-NN probe');
  const names = await page.getByTestId('top-classes').locator('.class-name').allTextContents();
  expect(names.length).toBeGreaterThan(0);
  for (const n of names) expect(FASHION_CLASSES).toContain(n);
  await expect(page.getByTestId('pca-canvas')).toBeVisible();
  await expect(page.getByTestId('cached-model')).toHaveCount(1);
  await page.screenshot({ path: 'e2e-artifacts/inference-run.png', fullPage: true });
  expect(errors).toEqual([]);
});
