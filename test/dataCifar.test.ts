import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  CIFAR10_CLASSES,
  CIFAR_RECORD_BYTES,
  CifarFormatError,
  loadCifar10,
  parseCifarBatch,
} from '../src/data/cifar';
import { DatasetError, imageAt } from '../src/data/dataset';
import { readTar, TarFormatError } from '../src/data/tar';

// --- a tiny tar writer (POSIX ustar), so the archives are built here, byte by byte ---

interface TarSpec {
  name: string;
  data?: Uint8Array;
  type?: string;
  prefix?: string;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(spec: TarSpec, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (text: string, at: number) => h.set(new TextEncoder().encode(text), at);
  put(spec.name, 0);
  put(octal(0o644, 8), 100);
  put(octal(0, 8), 108);
  put(octal(0, 8), 116);
  put(octal(size, 12), 124);
  put(octal(0, 12), 136);
  put(spec.type ?? '0', 156);
  put('ustar\0', 257);
  put('00', 263);
  if (spec.prefix) put(spec.prefix, 345);
  put('        ', 148);
  const sum = h.reduce((a, b) => a + b, 0);
  put(octal(sum, 7) + ' ', 148);
  return h;
}

function tar(specs: TarSpec[], endBlocks = 2): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const spec of specs) {
    const data = spec.data ?? new Uint8Array(0);
    parts.push(
      tarHeader(spec, data.length),
      data,
      new Uint8Array((512 - (data.length % 512)) % 512),
    );
  }
  parts.push(new Uint8Array(512 * endBlocks));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);

/** `count` CIFAR records; record n has label labels[n] and pixel bytes (n·7 + c·3 + i) mod 256. */
function cifarRecords(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR_RECORD_BYTES);
  labels.forEach((label, n) => {
    const r = n * CIFAR_RECORD_BYTES;
    out[r] = label;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 1024; i++) out[r + 1 + c * 1024 + i] = (n * 7 + c * 3 + i) % 256;
    }
  });
  return out;
}

describe('tar reader', () => {
  it('returns regular files with ustar prefixes, GNU long names and pax paths', () => {
    const longName = `dir/${'x'.repeat(120)}.bin`;
    const archive = tar([
      { name: 'cifar/', type: '5' },
      { name: 'a.txt', data: text('hello') },
      { name: 'b.bin', prefix: 'deep/folder', data: new Uint8Array(513).fill(7) },
      { name: '././@LongLink', type: 'L', data: text(`${longName}\0`) },
      { name: 'truncated-name', data: text('long') },
      { name: 'PaxHeader', type: 'x', data: text('22 path=pax/named.txt\n') },
      { name: 'short', data: text('pax') },
      { name: 'link', type: '2' },
    ]);
    const entries = readTar(archive);
    expect(entries.map((e) => e.name)).toEqual([
      'a.txt',
      'deep/folder/b.bin',
      longName,
      'pax/named.txt',
    ]);
    expect(new TextDecoder().decode(entries[0].data)).toBe('hello');
    expect(entries[1].data.length).toBe(513);
    expect(entries[1].data.every((b) => b === 7)).toBe(true);
    expect(new TextDecoder().decode(entries[3].data)).toBe('pax');
  });

  it('reports truncation, a missing end block and a bad checksum clearly', () => {
    const archive = tar([{ name: 'data_batch_1.bin', data: new Uint8Array(2000) }]);
    // Cut inside the file's data: the entry and the missing byte count are named.
    expect(() => readTar(archive.subarray(0, 1200), 'x.tar')).toThrow(
      /'data_batch_1.bin' needs 2000 bytes but the archive ends after 688 \(truncated\)/,
    );
    expect(() => readTar(archive.subarray(0, 300), 'x.tar')).toThrow(/truncated inside a header/);
    expect(() => readTar(tar([{ name: 'a', data: text('1') }], 0))).toThrow(
      /without the end-of-archive block/,
    );
    const corrupt = archive.slice();
    corrupt[3] ^= 0x20; // one bit of the name
    expect(() => readTar(corrupt)).toThrow(TarFormatError);
    expect(() => readTar(corrupt)).toThrow(/checksum/);
    expect(readTar(tar([]))).toEqual([]);
  });
});

describe('CIFAR-10 batch records', () => {
  it('turn CHW planes into HWC pixels with their labels', () => {
    const set = parseCifarBatch(cifarRecords([3, 9]));
    expect([set.count, set.height, set.width]).toEqual([2, 32, 32]);
    expect(Array.from(set.labels)).toEqual([3, 9]);
    // Image 1, pixel (row 2, col 5) = plane index 69: R = (7 + 69) % 256, G = (7 + 3 + 69), B = (7 + 6 + 69).
    const img = imageAt(set, 1);
    const p = (2 * 32 + 5) * 3;
    expect(Array.from(img.data.subarray(p, p + 3))).toEqual([76, 79, 82]);
    expect(Array.from(imageAt(set, 0).data.subarray(0, 6))).toEqual([0, 3, 6, 1, 4, 7]);
  });

  it('refuse partial records and labels outside the classes', () => {
    expect(() => parseCifarBatch(cifarRecords([1]).subarray(0, 3000))).toThrow(CifarFormatError);
    expect(() => parseCifarBatch(new Uint8Array(0))).toThrow(
      /not a whole number of 3073-byte records/,
    );
    expect(() => parseCifarBatch(cifarRecords([1, 10]))).toThrow(/record 1 has label 10/);
  });
});

describe('loadCifar10', () => {
  const meta = text(`${CIFAR10_CLASSES.map((c) => c.toUpperCase()).join('\n')}\n\n`);
  const archive = () =>
    tar([
      { name: 'cifar-10-batches-bin/', type: '5' },
      { name: 'cifar-10-batches-bin/data_batch_2.bin', data: cifarRecords([5, 6]) },
      { name: 'cifar-10-batches-bin/data_batch_1.bin', data: cifarRecords([1, 2, 3]) },
      { name: 'cifar-10-batches-bin/test_batch.bin', data: cifarRecords([0, 9]) },
      { name: 'cifar-10-batches-bin/batches.meta.txt', data: meta },
      { name: 'cifar-10-batches-bin/readme.html', data: text('<html>') },
    ]);

  it('reads the .tar.gz: train batches in numeric order, test batch as val, class names', async () => {
    const ds = await loadCifar10([{ name: 'cifar-10-binary.tar.gz', bytes: gzipSync(archive()) }]);
    expect(Array.from(ds.train.labels)).toEqual([1, 2, 3, 5, 6]);
    expect(Array.from(ds.val.labels)).toEqual([0, 9]);
    expect(ds.classes[0]).toBe('AIRPLANE');
    expect(ds.report).toEqual({ accepted: 7, skipped: [], ignored: 1 });
    // Train image 3 is data_batch_2's record 0.
    expect(imageAt(ds.train, 3).data).toEqual(imageAt(parseCifarBatch(cifarRecords([5])), 0).data);
  });

  it('reads loose .bin files (and a plain .tar) the same way', async () => {
    const ds = await loadCifar10([
      { name: 'test_batch.bin', bytes: cifarRecords([4]) },
      { name: 'data_batch_1.bin', bytes: cifarRecords([7, 8]) },
    ]);
    expect([ds.train.count, ds.val.count]).toEqual([2, 1]);
    expect(ds.classes).toEqual(CIFAR10_CLASSES);
    const fromTar = await loadCifar10([{ name: 'cifar.tar', bytes: archive() }]);
    expect(fromTar.train.count).toBe(5);
  });

  it('skips and reports a broken batch and stray files, keeping the rest', async () => {
    const ds = await loadCifar10([
      { name: 'data_batch_1.bin', bytes: cifarRecords([1, 2, 3, 4]) },
      { name: 'data_batch_2.bin', bytes: cifarRecords([1, 2]).subarray(0, 5000) },
      { name: 'data_batch_3.bin', bytes: cifarRecords([12]) },
      { name: 'notes.txt', bytes: text('hi') },
      { name: 'data_batch_1.bin', bytes: cifarRecords([1]) },
    ]);
    expect(ds.report.accepted).toBe(4);
    // Files are taken in batch-number order, so the second data_batch_1 comes first.
    expect(ds.report.skipped.map((s) => s.name)).toEqual([
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'notes.txt',
    ]);
    expect(ds.report.skipped[0].reason).toMatch(/second copy/);
    expect(ds.report.skipped[1].reason).toMatch(/5000 bytes is not a whole number/);
    expect(ds.report.skipped[2].reason).toMatch(/label 12/);
    expect(ds.report.skipped[3].reason).toMatch(/not part of CIFAR-10/);
    // No test batch: a stratified hold-out of the 4 training images (one per class → one image).
    expect(ds.train.count + ds.val.count).toBe(4);
    expect(ds.val.count).toBe(1);
  });

  it('refuses a truncated or corrupt archive with a sentence naming the file', async () => {
    const gz = gzipSync(archive());
    const truncated = loadCifar10([
      { name: 'cifar-10-binary.tar.gz', bytes: gz.subarray(0, gz.length - 100) },
    ]);
    await expect(truncated).rejects.toThrow(DatasetError);
    await expect(
      loadCifar10([{ name: 'cifar-10-binary.tar.gz', bytes: gz.subarray(0, gz.length - 100) }]),
    ).rejects.toThrow(/cifar-10-binary.tar.gz: not a readable gzip file/);
    const cutTar = archive().subarray(0, 1024 + 4000);
    await expect(loadCifar10([{ name: 'c.tar', bytes: cutTar }])).rejects.toThrow(
      /c.tar: .*data_batch_2.bin' needs 6146 bytes/,
    );
    await expect(loadCifar10([])).rejects.toThrow(/No CIFAR-10 batches could be read/);
  });

  it('refuses a set too small to split', async () => {
    await expect(
      loadCifar10([{ name: 'data_batch_1.bin', bytes: cifarRecords([3]) }]),
    ).rejects.toThrow(/Only 1 usable image: at least 2 are needed/);
  });
});
