import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '../src/data/fashionMnist';
import { IdxFormatError, parseIdx } from '../src/data/idx';

const readShipped = async (name: string) =>
  new Uint8Array(readFileSync(`public/datasets/fashion-mnist/${name}`));

describe('embedded Fashion-MNIST subset', () => {
  it('loads 10,000 train and 2,000 val images with balanced labels', async () => {
    const ds = await loadFashionMnist(readShipped);
    expect(ds.classes).toEqual(FASHION_MNIST_CLASSES);
    expect([ds.train.count, ds.train.height, ds.train.width]).toEqual([10000, 28, 28]);
    expect([ds.val.count, ds.val.height, ds.val.width]).toEqual([2000, 28, 28]);
    expect(ds.train.images.length).toBe(10000 * 784);
    // The first labels of the original files (Ankle boot, T-shirt, T-shirt, Dress; Ankle boot, Pullover).
    expect(Array.from(ds.train.labels.subarray(0, 4))).toEqual([9, 0, 0, 3]);
    expect(Array.from(ds.val.labels.subarray(0, 2))).toEqual([9, 2]);
    const counts = new Array(10).fill(0);
    for (const l of ds.train.labels) counts[l]++;
    for (const c of counts) expect(c).toBeGreaterThan(900);
    // Real images, not blank: the first training image has ink.
    expect(ds.train.images.subarray(0, 784).reduce((a, b) => a + b, 0)).toBe(76247);
  });

  it('rejects corrupt IDX data with a clear message', () => {
    const good = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
    expect(parseIdx(good).dims).toEqual([2]);
    expect(() => parseIdx(new Uint8Array([1, 2, 3]))).toThrow(IdxFormatError);
    expect(() => parseIdx(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0]))).toThrow(/bad magic/);
    expect(() => parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]))).toThrow(
      /not unsigned bytes/,
    );
    expect(() => parseIdx(good.subarray(0, 9))).toThrow(
      /promises 2 = 2 bytes of data but the file has 1/,
    );
  });

  it('rejects a truncated gzip stream', async () => {
    const truncated = async (name: string) => (await readShipped(name)).subarray(0, 1000);
    await expect(loadFashionMnist(truncated)).rejects.toThrow();
  });
});

describe('embedded dataset served already inflated', () => {
  it('loads when the transport has gunzipped the files (Content-Encoding: gzip)', async () => {
    const { gunzipSync } = await import('node:zlib');
    const inflated = async (name: string) => new Uint8Array(gunzipSync(await readShipped(name)));
    const ds = await loadFashionMnist(inflated);
    expect(ds.train.count).toBe(10000);
    expect(ds.val.count).toBe(2000);
  });
});
