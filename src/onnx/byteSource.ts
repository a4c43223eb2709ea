/**
 * Random-access byte sources: what the checkpoint readers pull bytes from, so that a 26 GB
 * checkpoint is read one tensor at a time and never sits in memory whole. In Node a file
 * handle backs it (byteSource.node.ts); in the browser a Blob/File, whose slice() reads only
 * the requested range from disk.
 */

export interface ByteSource {
  /** A name for messages (file name or URL). */
  readonly name: string;
  /** Total length in bytes. */
  readonly size: number;
  /**
   * Exactly `length` bytes from `offset`, as a fresh array the caller may keep or mutate.
   * Rejects (never returns short) when the range runs past the end.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export class ByteSourceError extends Error {
  override readonly name = 'ByteSourceError';
}

export function checkRange(source: { name: string; size: number }, offset: number, length: number) {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new ByteSourceError(`${source.name}: invalid byte range ${offset} + ${length}`);
  }
  if (offset + length > source.size) {
    throw new ByteSourceError(
      `${source.name}: bytes ${offset}…${offset + length} requested but the file has ${source.size} (truncated?)`,
    );
  }
}

/** A source over bytes already in memory (tests, small files, fetched responses). */
export function bytesByteSource(bytes: Uint8Array, name = 'bytes'): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    read(offset, length) {
      checkRange({ name, size: bytes.byteLength }, offset, length);
      return Promise.resolve(bytes.slice(offset, offset + length));
    },
  };
}

/** A source over a Blob or File: each read slices the range, so the browser reads only that. */
export function blobByteSource(
  blob: Blob,
  name = blob instanceof File ? blob.name : 'blob',
): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange({ name, size: blob.size }, offset, length);
      const buffer = await blob.slice(offset, offset + length).arrayBuffer();
      if (buffer.byteLength !== length) {
        throw new ByteSourceError(
          `${name}: read ${buffer.byteLength} bytes at ${offset}, expected ${length} (file changed?)`,
        );
      }
      return new Uint8Array(buffer);
    },
  };
}
