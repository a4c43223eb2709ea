import { describe, expect, it } from 'vitest';
import { DatasetError, type ImageDataset, type RgbImages } from '../src/data/dataset';
import { loadImageFolder, planImageFolder, rgbaToRgb } from '../src/data/folderImages';
import { fakeDecoder, fakeImage } from './dataImages';

/** (label, first pixel) of every image of both splits, sorted: what was loaded, split-independent. */
function contents(ds: ImageDataset): string[] {
  const rows: string[] = [];
  for (const set of [ds.train, ds.val] as RgbImages[]) {
    const size = set.height * set.width * 3;
    for (let i = 0; i < set.count; i++) {
      const p = set.pixels.subarray(i * size, i * size + 3);
      rows.push(`${ds.classes[set.labels[i]]}:${p.join(',')}`);
    }
  }
  return rows.sort();
}

describe('planImageFolder', () => {
  it('class = first folder below the shared ones; sorted classes; non-images skipped; metadata ignored', () => {
    const plan = planImageFolder([
      'drop/zebra/1.png',
      'drop/ant/2.JPG',
      'drop/ant/deeper/3.webp',
      'drop/notes.txt',
      'drop/loose.png',
      'drop/ant/.DS_Store',
      '__MACOSX/drop/ant/._2.JPG',
      'drop/zebra/',
      'drop/zebra/Makefile',
    ]);
    expect(plan.root).toBe('drop');
    expect(plan.classes).toEqual(['ant', 'zebra']);
    expect(plan.images).toEqual([
      { path: 'drop/zebra/1.png', label: 1, split: null },
      { path: 'drop/ant/2.JPG', label: 0, split: null },
      { path: 'drop/ant/deeper/3.webp', label: 0, split: null },
    ]);
    expect(plan.skipped).toEqual([
      { name: 'drop/notes.txt', reason: 'not an image file (.txt)' },
      { name: 'drop/zebra/Makefile', reason: 'not an image file (no extension)' },
      { name: 'drop/loose.png', reason: 'not inside a class folder' },
    ]);
    expect(plan.ignored).toBe(3);
  });

  it('keeps a train/val layout, and makes one class of a flat folder', () => {
    const split = planImageFolder([
      'd/train/b/1.png',
      'd/Val/a/2.png',
      'd/train/a/3.png',
      'd/val/4.png',
    ]);
    expect(split.classes).toEqual(['a', 'b']);
    expect(split.images.map((i) => [i.path, i.label, i.split])).toEqual([
      ['d/train/b/1.png', 1, 'train'],
      ['d/Val/a/2.png', 0, 'val'],
      ['d/train/a/3.png', 0, 'train'],
    ]);
    expect(split.skipped[0]).toEqual({
      name: 'd/val/4.png',
      reason: 'not inside a class folder of train/ or val/',
    });
    const flat = planImageFolder(['pics/a.png', 'pics/b.gif']);
    expect(flat.classes).toEqual(['pics']);
    expect(flat.images.every((i) => i.label === 0)).toBe(true);
    // A folder with only train/ is not a split layout: train is then a class.
    expect(planImageFolder(['x/train/a/1.png', 'x/other/2.png']).classes).toEqual([
      'other',
      'train',
    ]);
    // Windows separators and leading ./ are normalised.
    expect(planImageFolder(['.\\set\\c1\\1.png', 'set/c2/2.png']).classes).toEqual(['c1', 'c2']);
  });
});

describe('loadImageFolder', () => {
  it('decodes, stores at storeSize, labels by folder and reports what it skipped', async () => {
    const ds = await loadImageFolder(
      [
        { path: 'pets/cat/a.png', bytes: fakeImage(3, 5, [10, 20, 30]) },
        { path: 'pets/cat/b.png', bytes: fakeImage(7, 2, [11, 21, 31]) },
        { path: 'pets/dog/c.png', bytes: fakeImage(1, 1, [40, 50, 60]) },
        { path: 'pets/dog/d.png', bytes: fakeImage(4, 4, [41, 51, 61]) },
        { path: 'pets/dog/broken.png', bytes: new Uint8Array([1, 2, 3]) },
        { path: 'pets/readme.md', bytes: new Uint8Array(3) },
      ],
      { decode: fakeDecoder, storeSize: 4, seed: 1 },
    );
    expect(ds.name).toBe('pets');
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect([ds.train.height, ds.train.width]).toEqual([4, 4]);
    expect(ds.train.count + ds.val.count).toBe(4);
    expect(ds.val.count).toBe(2); // one of each class (round(2·0.1) → at least 1)
    // Constant images stay constant through resize + crop.
    expect(contents(ds)).toEqual(['cat:10,20,30', 'cat:11,21,31', 'dog:40,50,60', 'dog:41,51,61']);
    expect(ds.report.accepted).toBe(4);
    expect(ds.report.skipped).toEqual([
      { name: 'pets/readme.md', reason: 'not an image file (.md)' },
      {
        name: 'pets/dog/broken.png',
        reason: 'cannot be decoded: pets/dog/broken.png: unrecognised image data',
      },
    ]);
  });

  it('skips oversized and inconsistent decoder output, never throwing for one bad file', async () => {
    const liar = async () => ({ width: 2, height: 2, rgba: new Uint8Array(5) });
    const progress: number[][] = [];
    const ds = await loadImageFolder(
      [
        { path: 'a/x/1.png', bytes: fakeImage(2, 2, [1, 1, 1]) },
        { path: 'a/x/2.png', bytes: fakeImage(9, 9, [2, 2, 2]) },
        { path: 'a/y/3.png', bytes: fakeImage(2, 1, [3, 3, 3]) },
        { path: 'a/y/4.png', bytes: new Uint8Array(1) },
      ],
      {
        decode: (bytes, name) => (name.endsWith('4.png') ? liar() : fakeDecoder(bytes, name)),
        storeSize: 2,
        maxPixels: 50,
        onProgress: (done, total) => progress.push([done, total]),
      },
    );
    expect(ds.report.accepted).toBe(2);
    expect(ds.report.skipped.map((s) => s.reason)).toEqual([
      '9×9 is larger than the 50-pixel limit',
      'decoder returned 5 bytes for 2×2 RGBA',
    ]);
    expect(progress).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
  });

  it('keeps a given train/val split exactly', async () => {
    const ds = await loadImageFolder(
      [
        { path: 'train/a/1.png', bytes: fakeImage(2, 2, [1, 0, 0]) },
        { path: 'train/b/2.png', bytes: fakeImage(2, 2, [2, 0, 0]) },
        { path: 'val/a/3.png', bytes: fakeImage(2, 2, [3, 0, 0]) },
      ],
      { decode: fakeDecoder, storeSize: 2 },
    );
    expect(Array.from(ds.train.pixels.filter((_, k) => k % 12 === 0))).toEqual([1, 2]);
    expect(Array.from(ds.val.pixels.filter((_, k) => k % 12 === 0))).toEqual([3]);
    expect(Array.from(ds.val.labels)).toEqual([0]);
  });

  it('refuses an empty or too small folder with a message', async () => {
    const opts = { decode: fakeDecoder, storeSize: 2 };
    await expect(loadImageFolder([], opts)).rejects.toThrow(DatasetError);
    await expect(
      loadImageFolder([{ path: 'f/notes.txt', bytes: new Uint8Array(1) }], opts),
    ).rejects.toThrow(
      /No usable images in images \(1 skipped; e.g. f\/notes.txt: not an image file/,
    );
    await expect(
      loadImageFolder([{ path: 'f/c/1.png', bytes: fakeImage(1, 1, [0, 0, 0]) }], opts),
    ).rejects.toThrow(/Only 1 usable image: at least 2 are needed/);
    await expect(loadImageFolder([], { ...opts, storeSize: 0 })).rejects.toThrow(/storeSize/);
  });

  it('drops alpha as PIL convert("RGB") does', () => {
    const rgb = rgbaToRgb({
      width: 2,
      height: 1,
      rgba: Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 128]),
    });
    expect(Array.from(rgb.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
