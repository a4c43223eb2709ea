/**
 * The embedded default dataset: a Fashion-MNIST subset shipped in
 * public/datasets/fashion-mnist/ (10,000 train, 2,000 val, 28×28 grayscale, 10 classes).
 */
import { gunzipIfNeeded, IdxFormatError, parseIdx } from './idx';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export interface GrayscaleSplit {
  /** [count, height, width], row-major, 0–255. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

export interface LabelledDataset {
  name: string;
  classes: readonly string[];
  train: GrayscaleSplit;
  val: GrayscaleSplit;
}

/** Reads a file of the shipped dataset, by name (fetch in the app, fs in Node tests). */
export type DatasetFileReader = (fileName: string) => Promise<Uint8Array>;

async function loadSplit(read: DatasetFileReader, split: 'train' | 'val'): Promise<GrayscaleSplit> {
  const imageFile = `${split}-images-idx3-ubyte.gz`;
  const labelFile = `${split}-labels-idx1-ubyte.gz`;
  const images = parseIdx(await gunzipIfNeeded(await read(imageFile)), imageFile);
  const labels = parseIdx(await gunzipIfNeeded(await read(labelFile)), labelFile);
  if (images.dims.length !== 3)
    throw new IdxFormatError(`${imageFile}: expected [count, height, width]`);
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0]) {
    throw new IdxFormatError(`${labelFile}: ${labels.dims[0]} labels for ${images.dims[0]} images`);
  }
  const bad = labels.data.findIndex((l) => l >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0)
    throw new IdxFormatError(`${labelFile}: label ${labels.data[bad]} at ${bad} is not a class`);
  const [count, height, width] = images.dims;
  return { images: images.data, labels: labels.data, count, height, width };
}

export async function loadFashionMnist(read: DatasetFileReader): Promise<LabelledDataset> {
  const [train, val] = await Promise.all([loadSplit(read, 'train'), loadSplit(read, 'val')]);
  return { name: 'Fashion-MNIST (embedded subset)', classes: FASHION_MNIST_CLASSES, train, val };
}

/** Reader for the app: the files are served from public/ under the app's base URL. */
export function fetchDatasetFile(baseUrl: string): DatasetFileReader {
  return async (fileName) => {
    const url = new URL(`datasets/fashion-mnist/${fileName}`, baseUrl);
    const response = await fetch(url);
    if (!response.ok)
      throw new Error(`cannot load the embedded dataset file ${fileName}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
}
