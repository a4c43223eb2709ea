/** Node's ByteSource: positioned reads from a file handle (nothing is read until asked). */
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { ByteSourceError, checkRange, type ByteSource } from './byteSource';

/** Bytes per positioned read (Node refuses lengths of 2 GiB and above). */
const MAX_READ = 1 << 30;

export interface FileByteSource extends ByteSource {
  close(): Promise<void>;
}

export async function fileByteSource(path: string): Promise<FileByteSource> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  const name = basename(path);
  return {
    name,
    size,
    async read(offset, length) {
      checkRange({ name, size }, offset, length);
      const out = new Uint8Array(length);
      let done = 0;
      // One read() may return fewer bytes than asked, and Node caps one read at 2 GiB: loop.
      while (done < length) {
        const chunk = Math.min(length - done, MAX_READ);
        const { bytesRead } = await handle.read(out, done, chunk, offset + done);
        if (bytesRead === 0) {
          throw new ByteSourceError(
            `${name}: unexpected end of file at byte ${offset + done} (file shrank while reading?)`,
          );
        }
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}
