/**
 * The in-memory dataset every source is converted to: uint8 RGB images [N, H, W, 3] at one
 * stored resolution, a label per image, class names, and a report of what was skipped while
 * loading. Images stay uint8 (a quarter of the f32 size) until a batch is assembled
 * (src/data/batch.ts), which resizes, augments and normalises them to the model's input.
 */
import type { GrayscaleSplit, LabelledDataset } from './fashionMnist';

/** A uniform generator on [0, 1): mulberry32 from src/reference/random.ts, or Rng.uniform. */
export type Random = () => number;

/** N images of one size, row-major [count, height, width, 3], and their labels. */
export interface RgbImages {
  pixels: Uint8Array;
  labels: Uint16Array;
  count: number;
  height: number;
  width: number;
}

/** One interleaved RGB image, row-major [height, width, 3]. */
export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
}

export interface SkippedFile {
  name: string;
  reason: string;
}

/** What loading did with the input, for the UI to show. */
export interface LoadReport {
  /** Images kept (train + val). */
  accepted: number;
  /** Files that looked like data but could not be used, each with a sentence why. */
  skipped: SkippedFile[];
  /** Files passed over silently: directories, macOS metadata (__MACOSX/, ._*), dotfiles, readmes. */
  ignored: number;
}

export interface ImageDataset {
  name: string;
  classes: readonly string[];
  train: RgbImages;
  val: RgbImages;
  report: LoadReport;
}

/** A dataset that cannot be used, with a sentence the UI can show as it is. */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
}

/** The largest label a Uint16Array holds; more classes than this is refused. */
export const MAX_CLASSES = 65536;

export function emptyReport(): LoadReport {
  return { accepted: 0, skipped: [], ignored: 0 };
}

/** A view (no copy) of image i of `set`. */
export function imageAt(set: RgbImages, i: number): RgbImage {
  if (!Number.isInteger(i) || i < 0 || i >= set.count) {
    throw new RangeError(`image index ${i} is outside 0…${set.count - 1}`);
  }
  const size = set.height * set.width * 3;
  return {
    data: set.pixels.subarray(i * size, (i + 1) * size),
    height: set.height,
    width: set.width,
  };
}

/** Gray → RGB by repeating the value, as PIL's convert('RGB') does for mode L. */
export function grayscaleToRgb(split: GrayscaleSplit): RgbImages {
  const { images, labels, count, height, width } = split;
  if (images.length !== count * height * width) {
    throw new RangeError(`grayscale split: ${images.length} bytes for ${count}×${height}×${width}`);
  }
  const pixels = new Uint8Array(images.length * 3);
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    pixels[3 * i] = v;
    pixels[3 * i + 1] = v;
    pixels[3 * i + 2] = v;
  }
  return { pixels, labels: Uint16Array.from(labels), count, height, width };
}

/** The embedded Fashion-MNIST subset as an RGB dataset (its own train/val split is kept). */
export function fromFashionMnist(ds: LabelledDataset): ImageDataset {
  const train = grayscaleToRgb(ds.train);
  const val = grayscaleToRgb(ds.val);
  return checkDataset({
    name: ds.name,
    classes: ds.classes,
    train,
    val,
    report: { accepted: train.count + val.count, skipped: [], ignored: 0 },
  });
}

/** The images of `set` at `indices`, copied into a new set. */
export function selectImages(set: RgbImages, indices: ArrayLike<number>): RgbImages {
  const size = set.height * set.width * 3;
  const pixels = new Uint8Array(indices.length * size);
  const labels = new Uint16Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    pixels.set(set.pixels.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = set.labels[i];
  }
  return { pixels, labels, count: indices.length, height: set.height, width: set.width };
}

/**
 * Splits `set` into train and val, stratified: each class with n ≥ 2 images gives
 * round(n·valFraction) of them (at least 1, at most n − 1) to val, chosen by a seeded shuffle,
 * so every class is trained on and the split is the same for the same seed. A class with one
 * image stays in train. Refused (DatasetError) when fewer than 2 images or no val image result.
 */
export function splitTrainVal(
  set: RgbImages,
  valFraction: number,
  random: Random,
): { train: RgbImages; val: RgbImages } {
  if (!(valFraction > 0 && valFraction < 1)) {
    throw new RangeError(`valFraction ${valFraction} must be in (0, 1)`);
  }
  if (set.count < 2) {
    throw new DatasetError(
      `Only ${set.count} usable image${set.count === 1 ? '' : 's'}: at least 2 are needed, one to train on and one to validate with.`,
    );
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < set.count; i++) {
    const members = byClass.get(set.labels[i]) ?? [];
    members.push(i);
    byClass.set(set.labels[i], members);
  }
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label)!;
    shuffleInPlace(members, random);
    const n = members.length;
    const take = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
    valIdx.push(...members.slice(0, take));
    trainIdx.push(...members.slice(take));
  }
  if (valIdx.length === 0) {
    // Every class has a single image: hold out one image overall instead.
    trainIdx.sort((a, b) => a - b);
    valIdx.push(trainIdx.splice(Math.floor(random() * trainIdx.length), 1)[0]);
  }
  trainIdx.sort((a, b) => a - b);
  valIdx.sort((a, b) => a - b);
  return { train: selectImages(set, trainIdx), val: selectImages(set, valIdx) };
}

/** Fisher–Yates with the given generator. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/**
 * Checks the invariants every consumer relies on and refuses an unusable set with a sentence:
 * at least one train and one val image, both splits at the same resolution, labels < classes.
 */
export function checkDataset(ds: ImageDataset): ImageDataset {
  const { train, val } = ds;
  if (train.count + val.count === 0) {
    throw new DatasetError(
      `No usable images in ${ds.name}${skippedSuffix(ds.report)}. Expected PNG, JPEG, GIF, BMP, WebP or AVIF images in class folders, or CIFAR-10 binary batches.`,
    );
  }
  if (train.count < 1 || val.count < 1) {
    throw new DatasetError(
      `${ds.name} has ${train.count} training and ${val.count} validation images: both splits need at least one.`,
    );
  }
  if (ds.classes.length < 1 || ds.classes.length > MAX_CLASSES) {
    throw new DatasetError(`${ds.name} has ${ds.classes.length} classes (1 to ${MAX_CLASSES}).`);
  }
  if (train.height !== val.height || train.width !== val.width) {
    throw new RangeError(
      `${ds.name}: train ${train.height}×${train.width} and val ${val.height}×${val.width} differ`,
    );
  }
  for (const [split, set] of [
    ['train', train],
    ['val', val],
  ] as const) {
    if (set.pixels.length !== set.count * set.height * set.width * 3) {
      throw new RangeError(
        `${ds.name} ${split}: ${set.pixels.length} bytes for ${set.count} images`,
      );
    }
    if (set.labels.length !== set.count) {
      throw new RangeError(
        `${ds.name} ${split}: ${set.labels.length} labels for ${set.count} images`,
      );
    }
    const bad = set.labels.findIndex((l) => l >= ds.classes.length);
    if (bad >= 0) {
      throw new RangeError(
        `${ds.name} ${split}: label ${set.labels[bad]} of image ${bad} is not a class`,
      );
    }
  }
  return ds;
}

function skippedSuffix(report: LoadReport): string {
  const n = report.skipped.length;
  return n === 0 ? '' : ` (${n} file${n === 1 ? '' : 's'} skipped)`;
}

/** Accumulates images of one fixed size; grows by doubling so the final copy is the only big one. */
export class RgbImageBuilder {
  private pixels: Uint8Array;
  private labels: Uint16Array;
  count = 0;

  constructor(
    readonly height: number,
    readonly width: number,
    initialCapacity = 16,
  ) {
    const capacity = Math.max(1, initialCapacity);
    this.pixels = new Uint8Array(capacity * height * width * 3);
    this.labels = new Uint16Array(capacity);
  }

  add(image: RgbImage, label: number): void {
    if (image.height !== this.height || image.width !== this.width) {
      throw new RangeError(
        `image ${image.height}×${image.width} added to a ${this.height}×${this.width} set`,
      );
    }
    const size = this.height * this.width * 3;
    if (image.data.length !== size) {
      throw new RangeError(`image data has ${image.data.length} bytes, expected ${size}`);
    }
    if (!Number.isInteger(label) || label < 0 || label >= MAX_CLASSES) {
      throw new RangeError(`label ${label} is not in 0…${MAX_CLASSES - 1}`);
    }
    if (this.count === this.labels.length) {
      const grownPixels = new Uint8Array(this.pixels.length * 2);
      grownPixels.set(this.pixels);
      this.pixels = grownPixels;
      const grownLabels = new Uint16Array(this.labels.length * 2);
      grownLabels.set(this.labels);
      this.labels = grownLabels;
    }
    this.pixels.set(image.data, this.count * size);
    this.labels[this.count] = label;
    this.count++;
  }

  /** The images added so far (views, not copies, when the initial capacity was exact). */
  build(): RgbImages {
    const size = this.height * this.width * 3;
    const exact = this.count === this.labels.length;
    return {
      pixels: exact ? this.pixels : this.pixels.slice(0, this.count * size),
      labels: exact ? this.labels : this.labels.slice(0, this.count),
      count: this.count,
      height: this.height,
      width: this.width,
    };
  }
}
