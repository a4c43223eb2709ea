import { strToU8, zipSync, type Zippable } from 'fflate';
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../src/data/dataset';
import { listZipEntries, loadImageZip } from '../src/data/zipImages';
import { fakeDecoder, fakeImage } from './dataImages';

const opts = { decode: fakeDecoder, storeSize: 3, seed: 2 };

/** First pixel (R) of every stored image with its class, sorted. */
function firstPixels(ds: Awaited<ReturnType<typeof loadImageZip>>): string[] {
  const out: string[] = [];
  for (const set of [ds.train, ds.val]) {
    for (let i = 0; i < set.count; i++) {
      out.push(`${ds.classes[set.labels[i]]}:${set.pixels[i * set.height * set.width * 3]}`);
    }
  }
  return out.sort();
}

/** Offsets of the zip's local headers (PK\x03\x04) and central headers (PK\x01\x02). */
function findSignatures(zip: Uint8Array, signature: number): number[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const found: number[] = [];
  for (let i = 0; i + 4 <= zip.length; i++)
    if (view.getUint32(i, true) === signature) found.push(i);
  return found;
}

/** The entry name of a local (length at +26, name at +30) or central (+28, +46) header. */
function entryName(zip: Uint8Array, header: number, local: boolean): string {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const length = view.getUint16(header + (local ? 26 : 28), true);
  const start = header + (local ? 30 : 46);
  return new TextDecoder().decode(zip.subarray(start, start + length));
}

describe('loadImageZip', () => {
  const files: Zippable = {
    'photos/cat/a.png': fakeImage(4, 3, [10, 0, 0]),
    'photos/cat/b.jpg': fakeImage(2, 6, [11, 0, 0]),
    'photos/dog/c.png': fakeImage(5, 5, [20, 0, 0]),
    'photos/dog/sub/d.webp': fakeImage(3, 3, [21, 0, 0]),
    'photos/dog/broken.png': strToU8('definitely not an image'),
    'photos/README.txt': strToU8('my photos'),
    'photos/loose.png': fakeImage(1, 1, [99, 0, 0]),
    'photos/.DS_Store': new Uint8Array(10),
    '__MACOSX/photos/cat/._a.png': new Uint8Array(10),
  };

  it('lists entries without inflating them', () => {
    const entries = listZipEntries(zipSync(files));
    expect(entries.map((e) => e.name).sort()).toEqual(Object.keys(files).sort());
    expect(entries.every((e) => e.compression === 8 || e.compression === 0)).toBe(true);
  });

  it('loads class folders, skipping and reporting what is not a usable image', async () => {
    const ds = await loadImageZip(zipSync(files), opts);
    expect(ds.name).toBe('photos');
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(firstPixels(ds)).toEqual(['cat:10', 'cat:11', 'dog:20', 'dog:21']);
    expect([ds.train.height, ds.train.width]).toEqual([3, 3]);
    expect(ds.report.accepted).toBe(4);
    expect(ds.report.ignored).toBe(2);
    const skipped = Object.fromEntries(ds.report.skipped.map((s) => [s.name, s.reason]));
    expect(skipped).toEqual({
      'photos/README.txt': 'not an image file (.txt)',
      'photos/loose.png': 'not inside a class folder',
      'photos/dog/broken.png': 'cannot be decoded: photos/dog/broken.png: unrecognised image data',
    });
  });

  it('works the same with stored (uncompressed) entries and in small inflate groups', async () => {
    const stored = await loadImageZip(zipSync(files, { level: 0 }), opts);
    expect(firstPixels(stored)).toEqual(['cat:10', 'cat:11', 'dog:20', 'dog:21']);
    // 40 images of 1036 bytes each, inflated in groups of ≤ 3000 bytes (2 per group, 20
    // groups) and in one group: the same dataset.
    const many: Zippable = {};
    for (let i = 0; i < 40; i++) many[`set/c${i % 3}/${i}.png`] = fakeImage(16, 16, [i, 0, 0]);
    const grouped = await loadImageZip(zipSync(many), { ...opts, groupBytes: 3000 });
    const whole = await loadImageZip(zipSync(many), opts);
    expect(grouped.report.accepted).toBe(40);
    expect(grouped.classes).toEqual(['c0', 'c1', 'c2']);
    expect(grouped.train.pixels).toEqual(whole.train.pixels);
    expect(grouped.val.labels).toEqual(whole.val.labels);
  });

  it('reports a corrupt deflate stream and an unsupported method, loading the rest', async () => {
    const zip = zipSync(
      {
        'x/a/1.png': fakeImage(8, 8, [1, 0, 0]),
        'x/a/2.png': fakeImage(8, 8, [2, 0, 0]),
        'x/b/3.png': fakeImage(8, 8, [3, 0, 0]),
        'x/b/4.png': fakeImage(8, 8, [4, 0, 0]),
      },
      { level: 9 },
    );
    const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
    // Corrupt 2.png's deflate data: first byte 0xff has BTYPE = 3, which inflate must reject.
    for (const at of findSignatures(zip, 0x04034b50)) {
      if (entryName(zip, at, true) === 'x/a/2.png') {
        zip[at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true)] = 0xff;
      }
    }
    // Mark 3.png as LZMA (method 14) in the central directory, which is what the listing reads.
    for (const at of findSignatures(zip, 0x02014b50)) {
      if (entryName(zip, at, false) === 'x/b/3.png') view.setUint16(at + 10, 14, true);
    }
    const ds = await loadImageZip(zip, opts);
    expect(firstPixels(ds)).toEqual(['a:1', 'b:4']);
    const skipped = Object.fromEntries(ds.report.skipped.map((s) => [s.name, s.reason]));
    expect(skipped['x/a/2.png']).toMatch(/^corrupt zip entry: /);
    expect(skipped['x/b/3.png']).toBe(
      'compressed with method 14; only stored (0) and deflate (8) are supported',
    );
  });

  it('refuses a non-zip, an empty zip and a single image with a sentence', async () => {
    await expect(
      loadImageZip(strToU8('this is not a zip file at all'), { ...opts, zipName: 'bad.zip' }),
    ).rejects.toThrow(/bad.zip is not a readable zip archive/);
    const truncated = zipSync(files).subarray(0, 200);
    await expect(loadImageZip(truncated, opts)).rejects.toThrow(DatasetError);
    await expect(loadImageZip(zipSync({}), { ...opts, zipName: 'empty.zip' })).rejects.toThrow(
      /No usable images in empty\./,
    );
    await expect(
      loadImageZip(zipSync({ 'one/a/1.png': fakeImage(2, 2, [0, 0, 0]) }), opts),
    ).rejects.toThrow(/Only 1 usable image/);
  });
});
