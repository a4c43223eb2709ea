/**
 * The browser's image decoder for src/data/folderImages.ts and zipImages.ts: createImageBitmap
 * decodes (off the main thread when called from the training worker, where both it and
 * OffscreenCanvas exist), an OffscreenCanvas 2-D context reads the pixels back as RGBA.
 *
 * Options keep the pixels as the file stores them, as PIL would read them: no colour-space
 * conversion, no premultiplied alpha, EXIF orientation applied ('from-image', what browsers
 * show). The size is checked before the canvas is allocated, so one huge image is skipped
 * rather than exhausting the worker's memory.
 */
import { DEFAULT_MAX_PIXELS, type DecodedImage, type ImageDecoder } from './folderImages';

const MIME_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  bmp: 'image/bmp',
  webp: 'image/webp',
  avif: 'image/avif',
};

function mimeType(name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  return MIME_TYPES[ext] ?? 'application/octet-stream';
}

/** Decodes one image file with the platform's decoders; throws with a reason when it cannot. */
export async function decodeImageInBrowser(
  bytes: Uint8Array,
  name: string,
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<DecodedImage> {
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function') {
    throw new Error('this browser has no createImageBitmap/OffscreenCanvas to decode images with');
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: mimeType(name) }), {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
      imageOrientation: 'from-image',
    });
  } catch (e) {
    throw new Error(`not a decodable image (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    const { width, height } = bitmap;
    if (width < 1 || height < 1) throw new Error(`decoded to an empty ${width}×${height} image`);
    if (width * height > maxPixels) {
      throw new Error(`${width}×${height} is larger than the ${maxPixels}-pixel limit`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('no 2-D canvas context to read the pixels with');
    context.drawImage(bitmap, 0, 0);
    const pixels = context.getImageData(0, 0, width, height);
    return { width, height, rgba: pixels.data };
  } finally {
    bitmap.close();
  }
}

/** A decoder with a different pixel limit, in the ImageDecoder shape the loaders take. */
export function browserImageDecoder(maxPixels = DEFAULT_MAX_PIXELS): ImageDecoder {
  return (bytes, name) => decodeImageInBrowser(bytes, name, maxPixels);
}
