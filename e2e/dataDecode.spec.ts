import { expect, test } from '@playwright/test';
import { buildSync } from 'esbuild';
import { encodePng } from './png';

// The browser image decoder (src/data/decodeBrowser.ts: createImageBitmap + OffscreenCanvas)
// and the folder loader run inside a real Web Worker in Chromium, on PNGs encoded here in
// Node. The app's bundle does not expose these modules, so the test bundles them itself with
// esbuild and starts the worker from a blob URL on the app's origin.

const bundle = buildSync({
  stdin: {
    contents: `
      export { decodeImageInBrowser } from './src/data/decodeBrowser';
      export { loadImageFolder } from './src/data/folderImages';`,
    resolveDir: process.cwd(),
    loader: 'ts',
  },
  bundle: true,
  format: 'iife',
  globalName: 'AimData',
  write: false,
  target: 'es2022',
}).outputFiles[0].text;

// Runs in the worker: decode each file alone, then load them all as a folder.
const workerMain = `
self.onmessage = async (event) => {
  const files = event.data.map((f) => ({ path: f.path, bytes: new Uint8Array(f.bytes) }));
  const decoded = [];
  for (const f of files) {
    try {
      const img = await AimData.decodeImageInBrowser(f.bytes, f.path);
      decoded.push({ ok: true, width: img.width, height: img.height, rgba: Array.from(img.rgba) });
    } catch (error) {
      decoded.push({ ok: false, reason: String(error && error.message) });
    }
  }
  let dataset = null;
  try {
    const ds = await AimData.loadImageFolder(files, { decode: AimData.decodeImageInBrowser, storeSize: 4 });
    dataset = {
      classes: ds.classes,
      count: ds.train.count + ds.val.count,
      report: ds.report,
      firstPixels: [ds.train, ds.val].flatMap((s) =>
        Array.from({ length: s.count }, (_, i) => Array.from(s.pixels.subarray(i * 48, i * 48 + 3)))),
    };
  } catch (error) {
    dataset = { error: String(error && error.message) };
  }
  self.postMessage({ decoded, dataset });
};`;

test('PNGs decode exactly in a Web Worker; a corrupt file is skipped and counted', async ({
  page,
}) => {
  // 5×3 RGBA with every byte different (alpha 255: nothing for premultiplication to change).
  const rgba = new Uint8Array(5 * 3 * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = i % 4 === 3 ? 255 : (i * 37) % 256;
  const rgb = new Uint8Array(2 * 7 * 3).map((_, i) => (i * 91 + 5) % 256);
  const solid = (r: number, g: number, b: number) =>
    new Uint8Array(6 * 6 * 3).map((_, i) => [r, g, b][i % 3]);
  const files = [
    { path: 'set/red/rgba.png', bytes: encodePng(5, 3, rgba, 4) },
    { path: 'set/red/rgb.png', bytes: encodePng(2, 7, rgb, 3) },
    { path: 'set/blue/solid.png', bytes: encodePng(6, 6, solid(12, 34, 200), 3) },
    {
      path: 'set/blue/corrupt.png',
      bytes: Buffer.from('this is not a PNG, whatever its name says'),
    },
  ].map((f) => ({ path: f.path, bytes: Array.from(f.bytes) }));

  await page.goto('/');
  const result = await page.evaluate(
    async ({ code, files }) => {
      const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
      const worker = new Worker(url);
      try {
        return await new Promise<{
          decoded: {
            ok: boolean;
            width?: number;
            height?: number;
            rgba?: number[];
            reason?: string;
          }[];
          dataset: {
            classes?: string[];
            count?: number;
            report?: { accepted: number; skipped: { name: string; reason: string }[] };
            firstPixels?: number[][];
            error?: string;
          };
        }>((resolve, reject) => {
          worker.onmessage = (e) => resolve(e.data);
          worker.onerror = (e) => reject(new Error(e.message));
          worker.postMessage(files);
        });
      } finally {
        worker.terminate();
        URL.revokeObjectURL(url);
      }
    },
    { code: `${bundle}\n${workerMain}`, files },
  );

  const [a, b, c, bad] = result.decoded;
  expect(a).toEqual({ ok: true, width: 5, height: 3, rgba: Array.from(rgba) });
  expect(b.ok && [b.width, b.height]).toEqual([2, 7]);
  // RGB PNG → RGBA with alpha 255, colours untouched.
  expect(b.rgba!.filter((_, i) => i % 4 !== 3)).toEqual(Array.from(rgb));
  expect(b.rgba!.filter((_, i) => i % 4 === 3).every((v) => v === 255)).toBe(true);
  expect(c.ok).toBe(true);
  expect(bad.ok).toBe(false);
  expect(bad.reason).toMatch(/not a decodable image/);

  expect(result.dataset.error).toBeUndefined();
  expect(result.dataset.classes).toEqual(['blue', 'red']);
  expect(result.dataset.count).toBe(3);
  expect(result.dataset.report!.accepted).toBe(3);
  expect(result.dataset.report!.skipped).toHaveLength(1);
  expect(result.dataset.report!.skipped[0].name).toBe('set/blue/corrupt.png');
  expect(result.dataset.report!.skipped[0].reason).toMatch(
    /^cannot be decoded: not a decodable image/,
  );
  // The solid image stays solid after storing at 4×4.
  expect(result.dataset.firstPixels).toContainEqual([12, 34, 200]);
});
