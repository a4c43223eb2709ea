// `node scripts/inference-proof.mjs <model-dir> [--classify] [--backend webgpu|wasm]`:
// loads an exported model directory (model.onnx + model.onnx.data_*) through the Inference
// tab in headless Chromium, from disk as a user would pick it, and reports what it cost:
// session-creation time as the page shows it, the peak resident memory of Chromium's
// renderer (where the inference worker's JS heap lives) and of its GPU process (where
// WebGPU buffers live: host memory under SwiftShader), sampled every 200 ms, and with
// --classify one 224×224 run's latency and top-5. Needs the test build first
// (`npx vite build --mode test`: it pretends the storage quota is full through the inference
// worker's diagnostics, src/diagnostics/). Not part of `npm test`: a 7B-shape int4 model
// takes minutes and gigabytes. One JSON line on stdout.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--'));
if (!dir) {
  console.error(
    'usage: node scripts/inference-proof.mjs <model-dir> [--classify] [--backend wasm]',
  );
  process.exit(2);
}
const classify = args.includes('--classify');
const backend = args.includes('--backend') ? args[args.indexOf('--backend') + 1] : 'webgpu';
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.onnx') || /\.onnx\.data_\d+$/.test(f))
  .map((f) => resolve(dir, f));
const totalBytes = files.reduce((a, f) => a + statSync(f).size, 0);

const PORT = 4191;
const server = spawn(
  'npx',
  [
    'vite',
    'preview',
    '--mode',
    'test',
    '--host',
    '127.0.0.1',
    '--port',
    String(PORT),
    '--strictPort',
  ],
  {
    stdio: 'ignore',
    detached: true,
  },
);
const stopServer = () => {
  try {
    process.kill(-server.pid);
  } catch {
    /* already gone */
  }
};
process.on('exit', stopServer);

/** Resident set size (bytes) of every Chromium process, by its --type. */
function chromiumRss() {
  const out = {};
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline;
    let status;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes('chromium')) continue;
    const type = /--type=([a-z-]+)/.exec(cmdline)?.[1] ?? 'browser';
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    out[type] = (out[type] ?? 0) + rss;
  }
  return out;
}

const peak = {};
const sampler = setInterval(() => {
  for (const [type, rss] of Object.entries(chromiumRss()))
    peak[type] = Math.max(peak[type] ?? 0, rss);
}, 200);

for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${PORT}/`)).ok) break;
  } catch {
    await new Promise((r) => setTimeout(r, 300));
  }
}
const browser = await chromium.launch({
  executablePath: process.env.CHROME_PATH || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--headless=new',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--enable-unsafe-webgpu',
  ],
});
const result = { model: resolve(dir), files: files.length, totalBytes, backend };
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`http://127.0.0.1:${PORT}/#tab=inference`);
  await page.getByTestId('inference-env').waitFor({ timeout: 120_000 });
  if (backend === 'wasm') await page.getByTestId('inference-backend').selectOption('wasm');
  // The quota check would copy the files into OPFS first; measure the load itself.
  await page.evaluate(() => globalThis.__aimInference.simulateStorageQuota(0));
  await page.getByTestId('model-files').setInputFiles(files);
  await page.getByTestId('model-plan').waitFor({ timeout: 120_000 });
  result.plannedGpuBytes = await page.getByTestId('model-gpu-bytes').textContent();
  const refused = await page.getByTestId('model-refused').count();
  if (refused) {
    result.refused = await page.getByTestId('model-refused').textContent();
  } else {
    const started = Date.now();
    await page.getByTestId('load-model').click();
    await page
      .locator('[data-testid=loaded-backend], [data-testid=error-notice]')
      .first()
      .waitFor({ timeout: 3_600_000 });
    result.loadWallMs = Date.now() - started;
    if (await page.getByTestId('error-notice').count()) {
      result.error = await page.getByTestId('error-notice').textContent();
    } else {
      result.loaded = await page.getByTestId('loaded-backend').textContent();
      if (classify) {
        const png = readFileSync(join(resolve('e2e-artifacts'), 'inference-fixture.png'));
        const t = Date.now();
        await page.getByTestId('classify-input').setInputFiles({
          name: 'screenshot.png',
          mimeType: 'image/png',
          buffer: png,
        });
        await page
          .locator('[data-testid=latency], [data-testid=error-notice]')
          .first()
          .waitFor({ timeout: 3_600_000 });
        result.classifyWallMs = Date.now() - t;
        result.latency = await page.getByTestId('latency').textContent();
        result.top = await page
          .getByTestId('top-classes')
          .locator('li')
          .evaluateAll((lis) =>
            lis.map((li) => [...li.querySelectorAll('span')].map((s) => s.textContent).join(' ')),
          );
      }
    }
  }
} finally {
  clearInterval(sampler);
  await browser.close();
  stopServer();
}
result.peakRssBytes = peak;
console.log(JSON.stringify(result));
process.exit(0);
