/**
 * CIFAR-10's binary format (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
 * data_batch_1…5.bin and test_batch.bin hold 10,000 records each of 1 label byte followed by
 * a 32×32 image as 3072 bytes in CHW order (1024 red, 1024 green, 1024 blue, rows top to
 * bottom); batches.meta.txt names the classes, one per line. Accepted as the original
 * cifar-10-binary.tar.gz (gunzip + tar), a plain .tar, or the loose files.
 *
 * data_batch_* become the training split and test_batch the validation split; without a
 * test batch a stratified share of the training images is held out. A file that is not
 * whole records, or has a label outside the classes, is skipped and reported, not loaded.
 */
import { mulberry32 } from '../reference/random';
import {
  checkDataset,
  DatasetError,
  emptyReport,
  type ImageDataset,
  type LoadReport,
  type RgbImages,
  splitTrainVal,
} from './dataset';
import { gunzip } from './idx';
import { readTar, TarFormatError } from './tar';

export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

export const CIFAR_SIDE = 32;
export const CIFAR_IMAGE_BYTES = 3 * CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES;

export interface NamedFile {
  name: string;
  bytes: Uint8Array;
}

export interface CifarOptions {
  /** Share of the training images held out when there is no test_batch.bin (default 0.1). */
  valFraction?: number;
  /** Seed of that hold-out split (default 0). */
  seed?: number;
}

export class CifarFormatError extends Error {
  override readonly name = 'CifarFormatError';
}

/** Parses one batch file's records into HWC RGB images; throws CifarFormatError when malformed. */
export function parseCifarBatch(
  bytes: Uint8Array,
  numClasses: number = CIFAR10_CLASSES.length,
): RgbImages {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD_BYTES !== 0) {
    throw new CifarFormatError(
      `${bytes.length} bytes is not a whole number of ${CIFAR_RECORD_BYTES}-byte records (truncated or not a CIFAR-10 batch)`,
    );
  }
  const count = bytes.length / CIFAR_RECORD_BYTES;
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  const pixels = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Uint16Array(count);
  for (let n = 0; n < count; n++) {
    const record = n * CIFAR_RECORD_BYTES;
    const label = bytes[record];
    if (label >= numClasses) {
      throw new CifarFormatError(
        `record ${n} has label ${label}, but there are ${numClasses} classes`,
      );
    }
    labels[n] = label;
    const out = n * CIFAR_IMAGE_BYTES;
    for (let i = 0; i < plane; i++) {
      pixels[out + 3 * i] = bytes[record + 1 + i];
      pixels[out + 3 * i + 1] = bytes[record + 1 + plane + i];
      pixels[out + 3 * i + 2] = bytes[record + 1 + 2 * plane + i];
    }
  }
  return { pixels, labels, count, height: CIFAR_SIDE, width: CIFAR_SIDE };
}

function concatSets(sets: RgbImages[]): RgbImages {
  const count = sets.reduce((n, s) => n + s.count, 0);
  const pixels = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Uint16Array(count);
  let at = 0;
  for (const s of sets) {
    pixels.set(s.pixels, at * CIFAR_IMAGE_BYTES);
    labels.set(s.labels, at);
    at += s.count;
  }
  return { pixels, labels, count, height: CIFAR_SIDE, width: CIFAR_SIDE };
}

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const hasUstarMagic = (b: Uint8Array) =>
  b.length >= 263 && String.fromCharCode(...b.subarray(257, 262)) === 'ustar';
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Unpacks .tar.gz / .tgz / .gz / .tar inputs into their member files; reports broken archives. */
async function expandArchives(files: NamedFile[], report: LoadReport): Promise<NamedFile[]> {
  const out: NamedFile[] = [];
  for (const file of files) {
    let bytes = file.bytes;
    if (isGzip(bytes)) {
      try {
        bytes = await gunzip(bytes);
      } catch (e) {
        report.skipped.push({
          name: file.name,
          reason: `not a readable gzip file (truncated or corrupt): ${message(e)}`,
        });
        continue;
      }
    }
    if (/\.(tar|tgz|tar\.gz)$/i.test(file.name) || hasUstarMagic(bytes)) {
      try {
        for (const entry of readTar(bytes, file.name))
          out.push({ name: `${file.name}/${entry.name}`, bytes: entry.data });
      } catch (e) {
        if (!(e instanceof TarFormatError)) throw e;
        report.skipped.push({ name: file.name, reason: e.message });
      }
      continue;
    }
    out.push({ name: file.name.replace(/\.gz$/i, ''), bytes });
  }
  return out;
}

/**
 * Loads CIFAR-10 from the dropped files. Throws DatasetError when nothing usable remains;
 * everything skipped on the way is listed in the dataset's report.
 */
export async function loadCifar10(
  files: NamedFile[],
  opts: CifarOptions = {},
): Promise<ImageDataset> {
  const report = emptyReport();
  const members = await expandArchives(files, report);
  let classes: readonly string[] = CIFAR10_CLASSES;
  const meta = members.find((f) => baseName(f.name) === 'batches.meta.txt');
  if (meta) {
    const names = new TextDecoder()
      .decode(meta.bytes)
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
    if (names.length === CIFAR10_CLASSES.length) classes = names;
    else
      report.skipped.push({
        name: meta.name,
        reason: `lists ${names.length} class names, expected 10; using the standard names`,
      });
  }
  const train: RgbImages[] = [];
  const test: RgbImages[] = [];
  const seen = new Set<string>();
  // data_batch_1…5 in numeric order, then test_batch, whatever order the files came in.
  const batchOrder = (name: string) => {
    const m = /^data_batch_(\d+)\.bin$/.exec(baseName(name));
    return m ? Number(m[1]) : Infinity;
  };
  const sorted = [...members].sort((a, b) => batchOrder(a.name) - batchOrder(b.name));
  for (const file of sorted) {
    const base = baseName(file.name);
    if (base === 'batches.meta.txt') continue;
    if (base === '' || base.startsWith('.') || /^readme/i.test(base)) {
      report.ignored++;
      continue;
    }
    const isTrain = /^data_batch_\d+\.bin$/.test(base);
    if (!isTrain && base !== 'test_batch.bin') {
      report.skipped.push({
        name: file.name,
        reason:
          'not part of CIFAR-10 binary (expected data_batch_N.bin, test_batch.bin, batches.meta.txt)',
      });
      continue;
    }
    if (seen.has(base)) {
      report.skipped.push({ name: file.name, reason: `a second copy of ${base}` });
      continue;
    }
    try {
      const set = parseCifarBatch(file.bytes, classes.length);
      seen.add(base);
      (isTrain ? train : test).push(set);
      report.accepted += set.count;
    } catch (e) {
      if (!(e instanceof CifarFormatError)) throw e;
      report.skipped.push({ name: file.name, reason: e.message });
    }
  }
  if (train.length + test.length === 0) {
    const why =
      report.skipped.length > 0 ? ` ${report.skipped[0].name}: ${report.skipped[0].reason}.` : '';
    throw new DatasetError(
      `No CIFAR-10 batches could be read.${why} Expected cifar-10-binary.tar.gz or its .bin files.`,
    );
  }
  let trainSet: RgbImages;
  let valSet: RgbImages;
  if (train.length > 0 && test.length > 0) {
    trainSet = concatSets(train);
    valSet = concatSets(test);
  } else {
    // Only one kind of batch: hold out a share of it for validation.
    const split = splitTrainVal(
      concatSets(train.length > 0 ? train : test),
      opts.valFraction ?? 0.1,
      mulberry32(opts.seed ?? 0),
    );
    trainSet = split.train;
    valSet = split.val;
  }
  return checkDataset({ name: 'CIFAR-10', classes, train: trainSet, val: valSet, report });
}
