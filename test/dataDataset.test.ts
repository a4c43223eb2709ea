import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkDataset,
  DatasetError,
  fromFashionMnist,
  grayscaleToRgb,
  imageAt,
  type ImageDataset,
  RgbImageBuilder,
  type RgbImages,
  selectImages,
  splitTrainVal,
} from '../src/data/dataset';
import { loadFashionMnist } from '../src/data/fashionMnist';
import { makeProceduralDataset, PROCEDURAL_CLASSES, proceduralImage } from '../src/data/procedural';
import { mulberry32 } from '../src/reference/random';

function labelledSet(labels: number[], side = 2): RgbImages {
  const size = side * side * 3;
  const pixels = new Uint8Array(labels.length * size);
  // Image i is filled with the value i, so selections can be traced back.
  labels.forEach((_, i) => pixels.fill(i, i * size, (i + 1) * size));
  return {
    pixels,
    labels: Uint16Array.from(labels),
    count: labels.length,
    height: side,
    width: side,
  };
}

describe('Fashion-MNIST → RGB dataset', () => {
  it('repeats each gray value into R, G and B', () => {
    const rgb = grayscaleToRgb({
      images: Uint8Array.from([0, 7, 255, 9, 1, 2]),
      labels: Uint8Array.from([3, 4]),
      count: 2,
      height: 1,
      width: 3,
    });
    expect(Array.from(rgb.pixels)).toEqual([
      0, 0, 0, 7, 7, 7, 255, 255, 255, 9, 9, 9, 1, 1, 1, 2, 2, 2,
    ]);
    expect(Array.from(rgb.labels)).toEqual([3, 4]);
    expect(Array.from(imageAt(rgb, 1).data)).toEqual([9, 9, 9, 1, 1, 1, 2, 2, 2]);
  });

  it('converts the shipped subset with its own split', async () => {
    const read = async (name: string) =>
      new Uint8Array(readFileSync(`public/datasets/fashion-mnist/${name}`));
    const ds = fromFashionMnist(await loadFashionMnist(read));
    expect([ds.train.count, ds.val.count, ds.train.height, ds.train.width]).toEqual([
      10000, 2000, 28, 28,
    ]);
    expect(ds.classes.length).toBe(10);
    expect(ds.report).toEqual({ accepted: 12000, skipped: [], ignored: 0 });
    // The first training image's ink total (76247 in gray) appears three times.
    expect(imageAt(ds.train, 0).data.reduce((a, b) => a + b, 0)).toBe(3 * 76247);
    expect(ds.train.labels[0]).toBe(9);
  });
});

describe('train/val split', () => {
  it('is stratified, disjoint, complete and seeded', () => {
    const labels = [...Array(10).fill(0), ...Array(5).fill(1), ...Array(3).fill(2), 3];
    const set = labelledSet(labels);
    const { train, val } = splitTrainVal(set, 0.2, mulberry32(1));
    // Per class round(n·0.2) clamped to [1, n − 1]: 2, 1, 1, and the single image stays in train.
    const count = (s: RgbImages, l: number) => Array.from(s.labels).filter((x) => x === l).length;
    expect([0, 1, 2, 3].map((l) => count(val, l))).toEqual([2, 1, 1, 0]);
    expect([0, 1, 2, 3].map((l) => count(train, l))).toEqual([8, 4, 2, 1]);
    // Every original image exactly once (image i is filled with i).
    const ids = [
      ...train.pixels.filter((_, k) => k % 12 === 0),
      ...val.pixels.filter((_, k) => k % 12 === 0),
    ];
    expect(ids.sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    expect(splitTrainVal(set, 0.2, mulberry32(1))).toEqual({ train, val });
    expect(splitTrainVal(set, 0.2, mulberry32(2)).val.pixels).not.toEqual(val.pixels);
  });

  it('holds one image out when every class has one image; refuses fewer than two', () => {
    const { train, val } = splitTrainVal(labelledSet([0, 1, 2]), 0.1, mulberry32(3));
    expect([train.count, val.count]).toEqual([2, 1]);
    expect(() => splitTrainVal(labelledSet([0]), 0.1, mulberry32(3))).toThrow(DatasetError);
    expect(() => splitTrainVal(labelledSet([0]), 0.1, mulberry32(3))).toThrow(
      /at least 2 are needed/,
    );
    expect(() => splitTrainVal(labelledSet([]), 0.1, mulberry32(3))).toThrow(
      /Only 0 usable images/,
    );
    expect(() => splitTrainVal(labelledSet([0, 1]), 1, mulberry32(3))).toThrow(RangeError);
  });

  it('selectImages copies the chosen images and labels', () => {
    const s = selectImages(labelledSet([5, 6, 7], 1), [2, 0]);
    expect(Array.from(s.pixels)).toEqual([2, 2, 2, 0, 0, 0]);
    expect(Array.from(s.labels)).toEqual([7, 5]);
  });
});

describe('checkDataset', () => {
  const base = (): ImageDataset => ({
    name: 'test set',
    classes: ['a', 'b'],
    train: labelledSet([0, 1]),
    val: labelledSet([1]),
    report: { accepted: 3, skipped: [], ignored: 0 },
  });

  it('accepts a consistent dataset and refuses empty or one-sided ones with a sentence', () => {
    expect(checkDataset(base())).toEqual(base());
    const empty = { ...base(), train: labelledSet([]), val: labelledSet([]) };
    expect(() => checkDataset(empty)).toThrow(/No usable images in test set/);
    expect(() => checkDataset({ ...base(), val: labelledSet([]) })).toThrow(
      /both splits need at least one/,
    );
  });

  it('catches labels beyond the classes and size mismatches', () => {
    expect(() => checkDataset({ ...base(), val: labelledSet([2]) })).toThrow(/label 2 of image 0/);
    expect(() => checkDataset({ ...base(), val: labelledSet([1], 3) })).toThrow(/differ/);
  });
});

describe('RgbImageBuilder', () => {
  it('grows past its initial capacity and keeps order', () => {
    const b = new RgbImageBuilder(1, 2, 1);
    for (let i = 0; i < 5; i++) b.add({ data: new Uint8Array(6).fill(i), height: 1, width: 2 }, i);
    const set = b.build();
    expect(set.count).toBe(5);
    expect(Array.from(set.labels)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(set.pixels.filter((_, k) => k % 6 === 0))).toEqual([0, 1, 2, 3, 4]);
    expect(() => b.add({ data: new Uint8Array(6), height: 2, width: 1 }, 0)).toThrow(
      /added to a 1×2 set/,
    );
    expect(() => b.add({ data: new Uint8Array(5), height: 1, width: 2 }, 0)).toThrow(/5 bytes/);
  });
});

describe('procedural colour set', () => {
  it('is deterministic by seed, and a larger set extends a smaller one', () => {
    const a = makeProceduralDataset({ size: 12, trainCount: 20, valCount: 5, seed: 7 });
    const b = makeProceduralDataset({ size: 12, trainCount: 20, valCount: 5, seed: 7 });
    expect(a.train.pixels).toEqual(b.train.pixels);
    expect(a.val.pixels).toEqual(b.val.pixels);
    const c = makeProceduralDataset({ size: 12, trainCount: 20, valCount: 5, seed: 8 });
    expect(c.train.pixels).not.toEqual(a.train.pixels);
    const bigger = makeProceduralDataset({ size: 12, trainCount: 33, valCount: 6, seed: 7 });
    expect(bigger.train.pixels.subarray(0, a.train.pixels.length)).toEqual(a.train.pixels);
    // Train and val are different images.
    expect(a.val.pixels).not.toEqual(a.train.pixels.subarray(0, a.val.pixels.length));
  });

  it('has balanced labels over its eight classes and passes checkDataset', () => {
    const ds = makeProceduralDataset({ size: 5, trainCount: 24, valCount: 9, seed: 1 });
    expect(ds.classes).toEqual(PROCEDURAL_CLASSES);
    const counts = new Array(8).fill(0);
    for (const l of ds.train.labels) counts[l]++;
    expect(counts).toEqual(new Array(8).fill(3));
    expect(ds.report.accepted).toBe(33);
  });

  it('draws what the class says: stripes are constant along their direction', () => {
    for (let seed = 0; seed < 10; seed++) {
      const h = proceduralImage(0, 16, mulberry32(seed));
      const v = proceduralImage(1, 16, mulberry32(seed));
      for (let y = 0; y < 16; y++) {
        for (let x = 1; x < 16; x++) {
          for (let k = 0; k < 3; k++) {
            expect(h.data[(y * 16 + x) * 3 + k]).toBe(h.data[y * 16 * 3 + k]); // rows constant
            expect(v.data[(x * 16 + y) * 3 + k]).toBe(v.data[y * 3 + k]); // columns constant
          }
        }
      }
      // And not flat: two colours at least.
      expect(new Set(h.data).size).toBeGreaterThan(1);
    }
  });

  it('works at size 1 and refuses nonsense sizes', () => {
    expect(proceduralImage(4, 1, mulberry32(1)).data.length).toBe(3);
    expect(() => proceduralImage(8, 4, mulberry32(1))).toThrow(/not in 0…7/);
    expect(() => makeProceduralDataset({ size: 4, trainCount: 0, valCount: 1, seed: 1 })).toThrow(
      /trainCount/,
    );
  });
});
