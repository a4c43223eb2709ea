import { chromium, expect, test, type BrowserContext, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { SafetensorsFile, writeSafetensors, type SafetensorsTensor } from '../src/data/safetensors';
import { parseAimConfig } from '../src/onnx/checkpoint';
import { aimCheckpointTensors, randomAimWeights } from '../src/onnx/randomWeights';

// Apple's checkpoint files dropped in the Inference tab (issue 16, item 1): converted to ONNX
// in the tab's conversion worker, written into the OPFS cache, loaded through onnxruntime-web
// and checked against ml-aim's own logits; a cancelled conversion and bad files leave the
// cache as it was. The benchmark at the end (AIM_CONVERT_BENCH=1) times random-weight
// conversions of the paper's shapes and samples the conversion worker's heap over CDP.

const FIXTURE = 'test/fixtures/aim-v1-tiny-public';
const TMP = mkdtempSync(join(tmpdir(), 'aim-convert-e2e-'));
const fixture = (name: string) => join(FIXTURE, name);
const PAIR = ['aim_fixture_attnprobe_backbone.pth', 'aim_fixture_attnprobe_head_best_layers.pth'];

test.afterAll(() => rmSync(TMP, { recursive: true, force: true }));

async function openInference(page: Page) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=inference');
  await expect(page.getByTestId('inference-env')).toBeVisible({ timeout: 60_000 });
  return errors;
}

/** The cache's folders in OPFS, with whether each has its entry (i.e. counts as cached). */
async function opfsFolders(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const models = await root.getDirectoryHandle('inference-models', { create: true });
    const out: string[] = [];
    for await (const [name, handle] of models.entries()) {
      if (handle.kind !== 'directory') continue;
      let entry = false;
      try {
        await (handle as FileSystemDirectoryHandle).getFileHandle('entry.json');
        entry = true;
      } catch {
        entry = false;
      }
      out.push(`${name}${entry ? '' : ' (no entry)'}`);
    }
    return out.sort();
  });
}

async function shoot(page: Page, name: string) {
  const panel = page.getByTestId('convert-panel');
  await page.setViewportSize({ width: 1280, height: 800 });
  await panel.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `e2e-artifacts/convert-${name}-1280.png` });
  await page.setViewportSize({ width: 390, height: 844 });
  await panel.scrollIntoViewIfNeeded();
  await panel.screenshot({ path: `e2e-artifacts/convert-${name}-390.png` });
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Converts the dropped files in `format`, loads the result, checks ml-aim's numbers. */
async function convertAndCheck(page: Page, files: string[], screenshots: boolean) {
  await page.getByTestId('convert-files').setInputFiles(files.map(fixture));
  const plan = page.getByTestId('convert-plan');
  await expect(plan).toBeVisible();
  await expect(page.getByTestId('convert-shape')).toContainText('AIM 64×4');
  await expect(page.getByTestId('convert-shape')).toContainText('probe: 10 classes');
  await page.getByTestId('convert-format-fp32').locator('input').check();
  if (screenshots) await shoot(page, 'plan');
  await page.getByTestId('convert-start').click();
  const done = page.getByTestId('convert-done');
  await expect(done).toBeVisible({ timeout: 60_000 });
  await expect(done).toContainText('fp32 · converted here');
  if (screenshots) await shoot(page, 'done');
  await page.getByTestId('convert-load').click();
  // The heading names the model just loaded (an earlier one may still show until then).
  await expect(page.locator('#loaded-title')).toContainText(files[1], { timeout: 120_000 });
  await expect(page.getByTestId('loaded-backend')).toHaveAttribute('data-backend', 'webgpu', {
    timeout: 120_000,
  });
  await expect(page.getByTestId('model-facts')).toContainText('logits (10 classes)');

  const cases = SafetensorsFile.parse(readFileSync(fixture('cases.safetensors')));
  const got = await page.evaluate(
    async (images) => {
      const x = new Float32Array(images);
      const r = await window.__aimInference!.runBatch(x, [2, 3, 32, 32]);
      // The same converted files on our own WGSL kernels (the second engine).
      const ours = await window.__aimInference!.runWgslBatch(x, 2);
      return {
        logits: Array.from(r.outputs.logits.data),
        features: Array.from(r.outputs.features.data),
        backend: r.backend,
        oursLogits: Array.from(ours.logits!),
      };
    },
    Array.from(cases.float32('input')),
  );
  expect(got.backend).toBe('webgpu');
  const worst = (a: number[], b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  expect(got.logits).toHaveLength(20);
  expect(worst(got.logits, cases.float32('logits'))).toBeLessThan(1e-4);
  expect(worst(got.features, cases.float32('probe_features'))).toBeLessThan(1e-4);
  expect(got.oursLogits).toHaveLength(20);
  expect(worst(got.oursLogits, cases.float32('logits'))).toBeLessThan(1e-4);
}

test('pytorch_model.bin and the .pth pair: converted in the tab, ml-aim logits within 1e-4 on both engines', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const errors = await openInference(page);
  await convertAndCheck(page, ['config.json', 'pytorch_model.bin'], true);
  await expect(page.getByTestId('cached-model')).toHaveCount(1);
  await expect(page.getByTestId('cached-model')).toContainText('pytorch_model.bin');

  await convertAndCheck(page, ['config.json', ...PAIR], false);
  const cached = page.getByTestId('cached-model');
  await expect(cached).toHaveCount(2);
  await expect(cached.filter({ hasText: 'backbone.pth' })).toHaveCount(1);

  // Converting the same files again replaces their earlier conversion, not adds one.
  await page.getByTestId('convert-files').setInputFiles(PAIR.concat('config.json').map(fixture));
  await page.getByTestId('convert-format-fp32').locator('input').check();
  await page.getByTestId('convert-start').click();
  await expect(page.getByTestId('convert-done')).toContainText('replacing the earlier conversion');
  await expect(cached).toHaveCount(2);
  // Every folder in the cache is a committed one.
  const folders = await opfsFolders(page);
  expect(folders).toHaveLength(2);
  expect(folders.join()).not.toContain('no entry');
  expect(errors).toEqual([]);
});

test('cancel mid-way leaves the cache as it was; truncated and malicious files are refused', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const errors = await openInference(page);
  // A model in the cache beforehand, to show it stays.
  await convertAndCheck(page, ['config.json', 'pytorch_model.bin'], false);
  const before = await opfsFolders(page);
  expect(before).toHaveLength(1);

  // A 8-block, 768-wide checkpoint (~230 MB of fp32): long enough to cancel while it runs.
  const configJson = {
    img_size: 224,
    patch_size: 14,
    embed_dim: 768,
    num_blocks: 8,
    num_heads: 12,
    probe_layers: [6, 7],
    num_classes: 1000,
  };
  const config = parseAimConfig(configJson);
  const weights = randomAimWeights(config, 7);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, spec] of aimCheckpointTensors(config))
    tensors.set(name, { dtype: 'F32', shape: spec.shape, data: await weights.readFloat32(name) });
  const big = join(TMP, 'big');
  rmSync(big, { recursive: true, force: true });
  mkdirSync(big);
  writeFileSync(join(big, 'config.json'), JSON.stringify(configJson));
  writeFileSync(join(big, 'model.safetensors'), writeSafetensors(tensors));
  tensors.clear();

  await page
    .getByTestId('convert-files')
    .setInputFiles([join(big, 'config.json'), join(big, 'model.safetensors')]);
  await expect(page.getByTestId('convert-shape')).toContainText('AIM 768×8');
  await page.getByTestId('convert-format-fp32').locator('input').check();
  await page.getByTestId('convert-start').click();
  const text = page.getByTestId('convert-progress-text');
  await expect(text).toContainText(/[1-9]\d* of \d+ tensors/, { timeout: 60_000 });
  await expect(text).toContainText('read');
  await shoot(page, 'progress');
  await page.getByTestId('convert-cancel').click();
  await expect(page.getByTestId('convert-cancelled')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('convert-done')).toHaveCount(0);
  expect(await opfsFolders(page)).toEqual(before);
  await expect(page.getByTestId('cached-model')).toHaveCount(1);

  // Converted through in fp16 (each large tensor freed as soon as it is written): the same
  // shard bytes, after the shard's 64-byte export tag, as `npm run export` writes from the file.
  await page.getByTestId('convert-format-fp16').locator('input').check();
  await page.getByTestId('convert-start').click();
  await expect(page.getByTestId('convert-done')).toBeVisible({ timeout: 240_000 });
  const cli = join(TMP, 'big-cli');
  execFileSync('node', ['scripts/export.mjs', big, '--format', 'fp16', '--out', cli], {
    stdio: 'pipe',
  });
  const expected = createHash('sha256')
    .update(readFileSync(join(cli, 'model.onnx.data_0')).subarray(64))
    .digest('hex');
  const shardHashes = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const models = await root.getDirectoryHandle('inference-models');
    const hashes: string[] = [];
    for await (const [, handle] of models.entries()) {
      if (handle.kind !== 'directory') continue;
      let file: File;
      try {
        file = await (
          await (handle as FileSystemDirectoryHandle).getFileHandle('model.onnx.data_0')
        ).getFile();
      } catch {
        continue;
      }
      const digest = await crypto.subtle.digest('SHA-256', await file.slice(64).arrayBuffer());
      hashes.push([...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''));
    }
    return hashes;
  });
  expect(shardHashes).toContain(expected);
  await page
    .getByTestId('cached-model')
    .filter({ hasText: 'model.safetensors' })
    .getByRole('button', { name: 'Remove' })
    .click();
  await expect(page.getByTestId('cached-model')).toHaveCount(1);
  expect(await opfsFolders(page)).toEqual(before);

  // A truncated pytorch_model.bin and one whose pickle asks for os.system: each its message.
  const whole = readFileSync(fixture('pytorch_model.bin'));
  const cut = join(TMP, 'cut');
  const evil = join(TMP, 'evil');
  for (const dir of [cut, evil]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), readFileSync(fixture('config.json')));
  }
  writeFileSync(join(cut, 'pytorch_model.bin'), whole.subarray(0, whole.length - 5000));
  const archive = unzipSync(new Uint8Array(whole));
  const pkl = Object.keys(archive).find((n) => n.endsWith('/data.pkl'))!;
  archive[pkl] = new Uint8Array(
    [...'\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.'].map((c) => c.charCodeAt(0)),
  );
  writeFileSync(
    join(evil, 'pytorch_model.bin'),
    zipSync(Object.fromEntries(Object.entries(archive).map(([k, v]) => [k, [v, { level: 0 }]]))),
  );
  const notice = page.getByTestId('convert-error');
  await page
    .getByTestId('convert-files')
    .setInputFiles([join(cut, 'config.json'), join(cut, 'pytorch_model.bin')]);
  await expect(notice).toContainText('These files cannot be converted. Nothing was cached.');
  await expect(notice).toContainText('The file is incomplete');
  await expect(notice).toContainText(/truncated/);
  await expect(page.getByTestId('convert-plan')).toHaveCount(0);
  await shoot(page, 'error');
  await page
    .getByTestId('convert-files')
    .setInputFiles([join(evil, 'config.json'), join(evil, 'pytorch_model.bin')]);
  await expect(notice).toContainText('asks to run code');
  await expect(notice).toContainText('posix.system');
  // Wrong config: the tensor and both shapes named.
  const wrong = JSON.parse(readFileSync(fixture('config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(cut, 'config.json'), JSON.stringify({ ...wrong, mlp_ratio: 2 }));
  await page
    .getByTestId('convert-files')
    .setInputFiles([join(cut, 'config.json'), fixture('pytorch_model.bin')]);
  await expect(notice).toContainText('config.json does not describe these weights');
  await expect(notice).toContainText('[256, 64]');
  expect(await opfsFolders(page)).toEqual(before);
  await expect(page.getByTestId('cached-model')).toHaveCount(1);
  expect(errors).toEqual([]);
});

/** Samples a worker's JS heap (objects + ArrayBuffer backing stores) over CDP. */
async function heapSampler(context: BrowserContext, urlPart: string) {
  // A page's CDP session can reach the browser's Target domain: attach to the worker there.
  const cdp = await context.newCDPSession(context.pages()[0]);
  let worker: { targetId: string } | undefined;
  for (let i = 0; i < 100 && !worker; i++) {
    const { targetInfos } = await cdp.send('Target.getTargets');
    worker = targetInfos.find((t) => t.type === 'worker' && t.url.includes(urlPart));
    if (!worker) await new Promise((r) => setTimeout(r, 100));
  }
  if (!worker) throw new Error(`no worker ${urlPart}`);
  const { sessionId } = await cdp.send('Target.attachToTarget', {
    targetId: worker.targetId,
    flatten: false,
  });
  let id = 0;
  const pending = new Map<number, (r: unknown) => void>();
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    const m = JSON.parse(e.message) as { id?: number; result?: unknown };
    if (m.id !== undefined) pending.get(m.id)?.(m.result);
  });
  type Usage = { usedSize: number; backingStorageSize?: number };
  const usage = () =>
    new Promise<Usage>((resolve) => {
      const n = ++id;
      pending.set(n, resolve as (r: unknown) => void);
      void cdp.send('Target.sendMessageToTarget', {
        sessionId,
        message: JSON.stringify({ id: n, method: 'Runtime.getHeapUsage' }),
      });
    });
  const peak = { used: 0, backing: 0, total: 0, samples: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const u = await usage();
      const backing = u.backingStorageSize ?? 0;
      peak.used = Math.max(peak.used, u.usedSize);
      peak.backing = Math.max(peak.backing, backing);
      peak.total = Math.max(peak.total, u.usedSize + backing);
      peak.samples++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    usage,
    stop: async () => {
      if (running) {
        running = false;
        await loop.catch(() => undefined);
        await cdp.detach().catch(() => undefined);
      }
      return peak;
    },
  };
}

test.describe('random-weight conversion benchmark', () => {
  test.skip(!process.env.AIM_CONVERT_BENCH, 'set AIM_CONVERT_BENCH=1 (slow: gigabytes)');
  const shapes: { label: string; shape: string | Record<string, unknown>; format: string }[] =
    JSON.parse(process.env.AIM_CONVERT_BENCH_SHAPES ?? 'null') ?? [
      { label: 'aim-600M fp32', shape: 'aim-600M', format: 'fp32' },
      { label: 'aim-600M int4', shape: 'aim-600M', format: 'int4' },
    ];
  for (const { label, shape, format } of shapes) {
    test(`${label}: time and peak worker heap`, async ({ browserName }, info) => {
      test.setTimeout(3_600_000);
      expect(browserName).toBe('chromium');
      // A persistent profile, as a user's browser is: an incognito context's storage quota is
      // a slice of RAM, too small for gigabytes of shards.
      const profile = mkdtempSync(join(tmpdir(), 'aim-convert-profile-'));
      const context = await chromium.launchPersistentContext(profile, {
        ...info.project.use.launchOptions,
        baseURL: info.project.use.baseURL ?? `http://127.0.0.1:${process.env.AIM_E2E_PORT ?? 4173}`,
      });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        await openInference(page);
        await page.evaluate(() => void window.__aimConvert);
        const sampler = await heapSampler(context, 'convertWorker');
        const baseline = await sampler.usage();
        let result;
        try {
          result = await page.evaluate(
            ({ shape, format }) =>
              window.__aimConvert!.convertRandom(shape, format as 'fp32' | 'fp16' | 'int4'),
            { shape, format },
          );
        } finally {
          await sampler.stop();
        }
        const peak = await sampler.stop();
        const MiB = 2 ** 20;
        const line = {
          label,
          seconds: +(result.ms / 1000).toFixed(1),
          blocks: result.blocks,
          tensors: result.tensors,
          writtenMiB: +(result.bytesWritten / MiB).toFixed(0),
          largestTensor: `${result.largestTensor.name} ${(result.largestTensor.bytes / MiB).toFixed(0)} MiB`,
          peakHeapMiB: +(peak.used / MiB).toFixed(0),
          peakArrayBuffersMiB: +(peak.backing / MiB).toFixed(0),
          peakTotalMiB: +(peak.total / MiB).toFixed(0),
          baselineMiB: +((baseline.usedSize + (baseline.backingStorageSize ?? 0)) / MiB).toFixed(0),
          samples: peak.samples,
        };
        console.log(`CONVERT-BENCH ${JSON.stringify(line)}`);
        expect(result.tensors).toBeGreaterThan(0);
        expect(peak.samples).toBeGreaterThan(3);
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    });
  }
});
