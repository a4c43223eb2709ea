/** Node's DataSink: each external-data shard (and the model) is a file in one directory. */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSink } from './externalData';

export async function directorySink(dir: string): Promise<DataSink> {
  await mkdir(dir, { recursive: true });
  return {
    async create(fileName) {
      const handle = await open(join(dir, fileName), 'w');
      return {
        async write(bytes) {
          let done = 0;
          while (done < bytes.byteLength) {
            const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
            done += bytesWritten;
          }
        },
        close: () => handle.close(),
      };
    },
  };
}
