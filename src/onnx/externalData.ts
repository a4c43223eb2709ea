/**
 * ONNX external data, sharded: weights are appended to `<model>.data_0`, `<model>.data_1`, …,
 * each kept below `maxShardBytes` (default 1 GiB, well under the 2 GB protobuf and per-file
 * limits, and small enough that a browser never needs one huge ArrayBuffer), a tensor never
 * split across files. Offsets are aligned (4096 bytes for tensors of a page or more, so
 * runtimes can mmap them; 64 otherwise).
 *
 * Every shard opens with a 64-byte tag (SHARD_TAG_BYTES) that no tensor references: the magic
 * `AIM-ONNX-DATA` and the export's id, which the model's metadata repeats (`aim.export_id`). A
 * loader reads those 64 bytes to tell a shard of this export from one of another export with
 * the same file name and size (a mismatched set), without hashing gigabytes.
 *
 * The writer is sink-agnostic: Node writes files (fileSink.node.ts), a browser can write
 * OPFS files or collect Blobs (memoryDataSink here).
 */

export interface FileSink {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface DataSink {
  create(fileName: string): Promise<FileSink>;
}

export interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
}

export const DEFAULT_MAX_SHARD_BYTES = 1024 ** 3;
export const SHARD_TAG_BYTES = 64;
const SHARD_MAGIC = 'AIM-ONNX-DATA\n';

/** The 64 bytes a shard of export `exportId` (≤ 48 ASCII characters) starts with. */
export function shardTag(exportId: string): Uint8Array {
  const text = SHARD_MAGIC + exportId;
  if (!/^[\x20-\x7e]{1,48}$/.test(exportId) || text.length > SHARD_TAG_BYTES)
    throw new RangeError(`export id ${JSON.stringify(exportId)} must be 1–48 printable ASCII`);
  const tag = new Uint8Array(SHARD_TAG_BYTES);
  tag.set(new TextEncoder().encode(text));
  return tag;
}

/** The export id in a shard's first 64 bytes, or undefined when it has no tag. */
export function readShardTag(head: Uint8Array): string | undefined {
  if (head.byteLength < SHARD_TAG_BYTES) return undefined;
  const text = new TextDecoder().decode(head.subarray(0, SHARD_TAG_BYTES)).replace(/\0+$/, '');
  return text.startsWith(SHARD_MAGIC) ? text.slice(SHARD_MAGIC.length) : undefined;
}

/** A fresh random export id (32 hex digits). */
export function newExportId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}
/** Tensors of a page or more start on a page boundary; smaller ones on 64 bytes. */
export const PAGE = 4096;
export const SMALL_ALIGN = 64;

export class ExternalDataWriter {
  private current?: { name: string; sink: FileSink; size: number };
  private readonly sizes = new Map<string, number>();
  private readonly tag: Uint8Array;

  constructor(
    private readonly sink: DataSink,
    private readonly baseName: string,
    private readonly maxShardBytes = DEFAULT_MAX_SHARD_BYTES,
    readonly exportId = newExportId(),
  ) {
    this.tag = shardTag(exportId);
    if (!(maxShardBytes > 0))
      throw new RangeError(`maxShardBytes ${maxShardBytes} must be positive`);
  }

  /** Every shard written so far with its size, in order. */
  get shards(): { name: string; bytes: number }[] {
    return [...this.sizes].map(([name, bytes]) => ({ name, bytes }));
  }

  async add(tensorName: string, bytes: Uint8Array): Promise<ExternalLocation> {
    if (bytes.byteLength + SHARD_TAG_BYTES > this.maxShardBytes) {
      throw new RangeError(
        `tensor ${tensorName} is ${bytes.byteLength} bytes, above the shard limit of ${this.maxShardBytes}`,
      );
    }
    const align = bytes.byteLength >= PAGE ? PAGE : SMALL_ALIGN;
    let shard = this.current;
    let offset = shard ? Math.ceil(shard.size / align) * align : 0;
    if (!shard || offset + bytes.byteLength > this.maxShardBytes) {
      if (shard) await shard.sink.close();
      const name = `${this.baseName}_${this.sizes.size}`;
      shard = this.current = { name, sink: await this.sink.create(name), size: 0 };
      await shard.sink.write(this.tag);
      shard.size = SHARD_TAG_BYTES;
      this.sizes.set(name, shard.size);
      offset = Math.ceil(shard.size / align) * align;
    }
    if (offset > shard.size) await shard.sink.write(new Uint8Array(offset - shard.size));
    await shard.sink.write(bytes);
    shard.size = offset + bytes.byteLength;
    this.sizes.set(shard.name, shard.size);
    return { location: shard.name, offset, length: bytes.byteLength };
  }

  async close(): Promise<void> {
    if (this.current) await this.current.sink.close();
    this.current = undefined;
  }
}

/** Collects every file in memory (tests, and browsers that hand the result to a Blob). */
export function memoryDataSink(): DataSink & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    create(fileName) {
      const chunks: Uint8Array[] = [];
      return Promise.resolve({
        write(bytes: Uint8Array) {
          chunks.push(bytes.slice());
          return Promise.resolve();
        },
        close() {
          const total = chunks.reduce((a, c) => a + c.byteLength, 0);
          const out = new Uint8Array(total);
          let at = 0;
          for (const c of chunks) {
            out.set(c, at);
            at += c.byteLength;
          }
          files.set(fileName, out);
          return Promise.resolve();
        },
      });
    },
  };
}
