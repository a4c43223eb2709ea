/**
 * A fake image codec for the folder/zip loader tests: 'FAKEIMG' + NUL, width and height as
 * u16 little-endian, then RGBA bytes. The loaders take the decoder as a parameter, so Node
 * tests exercise every path (accepted, undecodable, oversized, inconsistent) without a real
 * image codec; the browser decoder itself is tested in Chromium (e2e/dataDecode.spec.ts).
 */
import type { DecodedImage, ImageDecoder } from '../src/data/folderImages';

const MAGIC = 'FAKEIMG\0';

/** A fake-encoded width × height image filled with one RGB colour (alpha 255). */
export function fakeImage(
  width: number,
  height: number,
  rgb: [number, number, number],
): Uint8Array {
  const out = new Uint8Array(12 + width * height * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint16(8, width, true);
  new DataView(out.buffer).setUint16(10, height, true);
  for (let i = 0; i < width * height; i++) out.set([...rgb, 255], 12 + 4 * i);
  return out;
}

export const fakeDecoder: ImageDecoder = async (
  bytes: Uint8Array,
  name: string,
): Promise<DecodedImage> => {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new Error(`${name}: unrecognised image data`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint16(8, true);
  const height = view.getUint16(10, true);
  return { width, height, rgba: bytes.subarray(12) };
};
