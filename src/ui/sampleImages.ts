/**
 * A few real images for the page's own drawings (the ordering pictures): the embedded
 * Fashion-MNIST validation images, fetched and parsed on the page once. Only the image file
 * of the small validation split is read (≈ 0.8 MB compressed), not the training set.
 */
import { fetchDatasetFile } from '../data/fashionMnist';
import { gunzipIfNeeded, parseIdx } from '../data/idx';

export interface GrayImage {
  width: number;
  height: number;
  /** Row-major, 0–255. */
  pixels: Uint8Array;
}

let images: Promise<GrayImage[]> | undefined;

export function sampleImages(count = 16): Promise<GrayImage[]> {
  images ??= (async () => {
    const read = fetchDatasetFile(new URL(import.meta.env.BASE_URL, location.href).href);
    const bytes = await read('val-images-idx3-ubyte.gz');
    const idx = parseIdx(await gunzipIfNeeded(bytes), 'validation images');
    const [n, height, width] = idx.dims;
    const size = height * width;
    return Array.from({ length: Math.min(n, 64) }, (_, i) => ({
      width,
      height,
      pixels: idx.data.slice(i * size, (i + 1) * size),
    }));
  })();
  images.catch(() => (images = undefined));
  return images.then((all) => all.slice(0, count));
}
