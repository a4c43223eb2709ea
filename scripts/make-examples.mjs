// Builds the example photos shipped in public/examples/ (the Inference tab's "try it" row and
// the presenter view) from Debian's python3-skimage package (0.19.3-8), whose data folder holds
// a few public-domain and CC0 photographs. Each is scaled so its shorter side is 384 px (above the
// 256 that ml-aim's preprocessing resizes to, so the presenter view can show it large) and
// saved as JPEG: a few tens of KB each, committed, so the page needs no download at run time. Node has no image codec here,
// so Debian's Chromium (the one the end-to-end tests drive) decodes, resamples and encodes.
//   cd /tmp && apt-get download python3-skimage && dpkg-deb -x python3-skimage_*.deb skx
//   node scripts/make-examples.mjs [/tmp/skx/usr/lib/python3/dist-packages/skimage/data]
import { chromium } from '@playwright/test';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/* global createImageBitmap, OffscreenCanvas -- page.evaluate's callback runs in the page */

const source = process.argv[2] ?? '/tmp/skx/usr/lib/python3/dist-packages/skimage/data';
const out = 'public/examples';
const SHORTER_SIDE = 384;
const JPEG_QUALITY = 0.8;

// Source file, output name, and the licence sentence of skimage/data/_fetchers.py's docstring.
// src/ui/inference/exampleImages.ts repeats the credits the page shows under each photo.
const EXAMPLES = [
  {
    file: 'chelsea.png',
    name: 'cat',
    title: 'Chelsea the cat',
    credit: 'Stefan van der Walt, CC0 (no copyright restrictions)',
  },
  {
    file: 'coffee.png',
    name: 'coffee',
    title: 'Coffee cup (courtesy of Pikolo Espresso Bar)',
    credit: 'Rachel Michetti, CC0 (no copyright restrictions)',
  },
  {
    file: 'astronaut.png',
    name: 'astronaut',
    title: 'Astronaut Eileen Collins',
    credit: 'NASA, public domain (NASA Great Images, https://flic.kr/p/r9qvLn)',
  },
  {
    file: 'rocket.jpg',
    name: 'rocket',
    title: 'Falcon 9 launching DSCOVR',
    credit:
      'SpaceX, released into the public domain ' +
      '(https://www.flickr.com/photos/spacexphotos/16511594820/)',
  },
  {
    file: 'hubble_deep_field.jpg',
    name: 'hubble',
    title: 'Hubble eXtreme Deep Field',
    credit:
      'NASA, public domain ' +
      '(http://hubblesite.org/newscenter/archive/releases/2012/37/image/a/)',
  },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROME_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const page = await browser.newPage();
mkdirSync(out, { recursive: true });
const rows = [];
for (const e of EXAMPLES) {
  const bytes = readFileSync(join(source, e.file));
  const type = e.file.endsWith('.png') ? 'image/png' : 'image/jpeg';
  const result = await page.evaluate(
    async ({ base64, type, side, quality }) => {
      const blob = new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type });
      const bitmap = await createImageBitmap(blob);
      const scale = side / Math.min(bitmap.width, bitmap.height);
      const width = Math.round(bitmap.width * scale);
      const height = Math.round(bitmap.height * scale);
      const canvas = new OffscreenCanvas(width, height);
      const g = canvas.getContext('2d');
      g.imageSmoothingEnabled = true;
      g.imageSmoothingQuality = 'high';
      g.drawImage(bitmap, 0, 0, width, height);
      const jpeg = await canvas.convertToBlob({ type: 'image/jpeg', quality });
      const data = new Uint8Array(await jpeg.arrayBuffer());
      let binary = '';
      for (const b of data) binary += String.fromCharCode(b);
      return { width, height, base64: btoa(binary) };
    },
    { base64: bytes.toString('base64'), type, side: SHORTER_SIDE, quality: JPEG_QUALITY },
  );
  const jpeg = Buffer.from(result.base64, 'base64');
  writeFileSync(join(out, `${e.name}.jpg`), jpeg);
  rows.push(
    `| ${e.name}.jpg | ${e.title} | ${e.file} | ${e.credit} | ${result.width}×${result.height}, ${(jpeg.length / 1024).toFixed(0)} KB |`,
  );
  console.log(`${e.name}.jpg ${result.width}×${result.height} ${jpeg.length} bytes`);
}
await browser.close();

writeFileSync(
  join(out, 'README.md'),
  `# Example photos and their licences

Made by \`node scripts/make-examples.mjs\` from the data folder of Debian's **python3-skimage**
package, version 0.19.3-8 (scikit-image's sample data, \`skimage/data/\`), scaled so the shorter
side is ${SHORTER_SIDE} px and saved as JPEG (quality ${JPEG_QUALITY}). The licence of each is the sentence in
scikit-image's \`skimage/data/_fetchers.py\` docstring for it; none needs more than the credit
given here and in the page under each photo.

| File | Photo | Source file | Author and licence | Size |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`,
);
console.log(`wrote ${out}`);
