/**
 * The IDX format of (Fashion-)MNIST: a 4-byte magic (0, 0, element type, number of
 * dimensions), one big-endian u32 per dimension, then the data. Only unsigned bytes (type
 * 0x08) are accepted: that is what image and label files hold.
 */

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export class IdxFormatError extends Error {
  override readonly name = 'IdxFormatError';
}

export function parseIdx(bytes: Uint8Array, what = 'IDX file'): IdxArray {
  if (bytes.length < 4)
    throw new IdxFormatError(`${what}: ${bytes.length} bytes is too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0)
    throw new IdxFormatError(`${what}: not an IDX file (bad magic number)`);
  if (bytes[2] !== 0x08) {
    throw new IdxFormatError(
      `${what}: element type 0x${bytes[2].toString(16)} is not unsigned bytes (0x08)`,
    );
  }
  const rank = bytes[3];
  if (rank < 1 || rank > 4)
    throw new IdxFormatError(`${what}: ${rank} dimensions is not supported`);
  const header = 4 + 4 * rank;
  if (bytes.length < header) throw new IdxFormatError(`${what}: truncated header`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - header !== count) {
    throw new IdxFormatError(
      `${what}: header promises ${dims.join('×')} = ${count} bytes of data but the file has ${bytes.length - header}`,
    );
  }
  return { dims, data: bytes.subarray(header) };
}

/** True if `bytes` start with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * The bytes of a file stored gzipped, whether or not the transport already inflated it: a
 * server that labels `.gz` files `Content-Encoding: gzip` (vite's preview server does) makes
 * fetch hand over the inflated bytes.
 */
export async function gunzipIfNeeded(bytes: Uint8Array): Promise<Uint8Array> {
  return isGzip(bytes) ? gunzip(bytes) : bytes;
}

/** gunzip with the platform's DecompressionStream (browsers, workers and Node ≥ 18). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
