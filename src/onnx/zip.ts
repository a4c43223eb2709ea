/**
 * A ZIP reader over a random-access ByteSource: only the end-of-central-directory record,
 * the central directory and each entry's local header are read, so an entry's bytes can be
 * read by range without loading the archive (PyTorch's `torch.save` archives reach 26 GB).
 * ZIP64 (archives or entries above 4 GiB) is supported; entries must be stored (method 0),
 * as PyTorch writes them, except small ones (the pickle), which may also be deflated.
 */
import { inflateSync } from 'fflate';
import type { ByteSource } from './byteSource';

export class ZipError extends Error {
  override readonly name = 'ZipError';
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD64_LOCATOR_SIGNATURE = 0x07064b50;
const EOCD64_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;
/** Deflated entries are inflated in memory; only small ones (the pickle) are allowed. */
const MAX_DEFLATED_BYTES = 256 * 1024 * 1024;

function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${what} ${v} is beyond 2^53`);
  return Number(v);
}

export class ZipArchive {
  private constructor(
    readonly source: ByteSource,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  static async open(source: ByteSource): Promise<ZipArchive> {
    const fail = (msg: string): never => {
      throw new ZipError(`${source.name}: ${msg}`);
    };
    if (source.size < EOCD_SIZE) fail(`${source.size} bytes is too short to be a ZIP archive`);
    // The end-of-central-directory record is the last 22 bytes plus a comment of ≤ 64 KiB.
    const tailLength = Math.min(source.size, EOCD_SIZE + MAX_COMMENT);
    const tailStart = source.size - tailLength;
    const tail = await source.read(tailStart, tailLength);
    const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let eocd = -1;
    for (let i = tail.byteLength - EOCD_SIZE; i >= 0; i--) {
      if (
        tailView.getUint32(i, true) === EOCD_SIGNATURE &&
        i + EOCD_SIZE + tailView.getUint16(i + 20, true) === tail.byteLength
      ) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      const head = await source.read(0, 4);
      const isZip = new DataView(head.buffer).getUint32(0, true) === LOCAL_SIGNATURE;
      fail(
        isZip
          ? 'no end-of-central-directory record: the ZIP archive is truncated (incomplete download?)'
          : 'not a ZIP archive (a torch.save file from PyTorch ≥ 1.6 is one; legacy pickle-only files are not supported)',
      );
    }
    let entryCount = tailView.getUint16(eocd + 10, true);
    let cdSize = tailView.getUint32(eocd + 12, true);
    let cdOffset = tailView.getUint32(eocd + 16, true);
    const locator = eocd - 20;
    if (locator >= 0 && tailView.getUint32(locator, true) === EOCD64_LOCATOR_SIGNATURE) {
      const recordOffset = u64(tailView, locator + 8, 'ZIP64 record offset');
      if (recordOffset + 56 > source.size) fail('ZIP64 end record lies past the end (truncated?)');
      const record = await source.read(recordOffset, 56);
      const rv = new DataView(record.buffer);
      if (rv.getUint32(0, true) !== EOCD64_SIGNATURE)
        fail('bad ZIP64 end-of-central-directory record');
      entryCount = u64(rv, 32, 'entry count');
      cdSize = u64(rv, 40, 'central directory size');
      cdOffset = u64(rv, 48, 'central directory offset');
    }
    if (cdOffset + cdSize > source.size) {
      fail(
        `the central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the ${source.size}-byte file (truncated?)`,
      );
    }
    const cd = await source.read(cdOffset, cdSize);
    const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
    const decoder = new TextDecoder();
    const entries = new Map<string, ZipEntry>();
    let at = 0;
    for (let n = 0; n < entryCount; n++) {
      if (at + 46 > cd.byteLength || view.getUint32(at, true) !== CENTRAL_SIGNATURE) {
        fail(`central directory entry ${n} is malformed`);
      }
      const method = view.getUint16(at + 10, true);
      let compressedSize = view.getUint32(at + 20, true);
      let uncompressedSize = view.getUint32(at + 24, true);
      const nameLength = view.getUint16(at + 28, true);
      const extraLength = view.getUint16(at + 30, true);
      const commentLength = view.getUint16(at + 32, true);
      let localHeaderOffset = view.getUint32(at + 42, true);
      const nameStart = at + 46;
      const extraStart = nameStart + nameLength;
      const next = extraStart + extraLength + commentLength;
      if (next > cd.byteLength) fail(`central directory entry ${n} runs past the directory`);
      const name = decoder.decode(cd.subarray(nameStart, nameStart + nameLength));
      // ZIP64: the 32-bit fields that overflowed are 0xFFFFFFFF and the extra field holds them, in order.
      const FULL = 0xffffffff;
      if (uncompressedSize === FULL || compressedSize === FULL || localHeaderOffset === FULL) {
        let e = extraStart;
        let found = false;
        while (e + 4 <= extraStart + extraLength) {
          const id = view.getUint16(e, true);
          const size = view.getUint16(e + 2, true);
          if (id === ZIP64_EXTRA_ID) {
            let f = e + 4;
            if (uncompressedSize === FULL) {
              uncompressedSize = u64(view, f, 'size');
              f += 8;
            }
            if (compressedSize === FULL) {
              compressedSize = u64(view, f, 'size');
              f += 8;
            }
            if (localHeaderOffset === FULL) localHeaderOffset = u64(view, f, 'offset');
            found = true;
            break;
          }
          e += 4 + size;
        }
        if (!found) fail(`entry ${name}: 4 GiB field without a ZIP64 extra field`);
      }
      if (entries.has(name)) fail(`entry ${name} appears twice`);
      entries.set(name, { name, method, compressedSize, uncompressedSize, localHeaderOffset });
      at = next;
    }
    return new ZipArchive(source, entries);
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(`${this.source.name}: no entry ${name}`);
    return e;
  }

  /**
   * Offset of a stored entry's first data byte in the archive. The local header's own name
   * and extra lengths decide it (PyTorch pads the extra field to align tensor data to 64 bytes).
   */
  async dataOffset(name: string): Promise<number> {
    const e = this.entry(name);
    if (e.localHeaderOffset + 30 > this.source.size) {
      throw new ZipError(`${this.source.name}: entry ${name} starts past the end (truncated?)`);
    }
    const header = await this.source.read(e.localHeaderOffset, 30);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== LOCAL_SIGNATURE) {
      throw new ZipError(
        `${this.source.name}: entry ${name} has no local header where the directory says`,
      );
    }
    const start = e.localHeaderOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
    if (start + e.compressedSize > this.source.size) {
      throw new ZipError(
        `${this.source.name}: entry ${name} (${e.compressedSize} bytes at ${start}) runs past the end of the ${this.source.size}-byte file (truncated?)`,
      );
    }
    return start;
  }

  /** Bytes [offset, offset + length) of a stored (uncompressed) entry. */
  async readRange(name: string, offset: number, length: number): Promise<Uint8Array> {
    const e = this.entry(name);
    if (e.method !== 0) {
      throw new ZipError(
        `${this.source.name}: entry ${name} is compressed (method ${e.method}); tensor data must be stored uncompressed`,
      );
    }
    if (offset < 0 || length < 0 || offset + length > e.uncompressedSize) {
      throw new ZipError(
        `${this.source.name}: bytes ${offset}…${offset + length} of entry ${name} requested, it has ${e.uncompressedSize}`,
      );
    }
    return this.source.read((await this.dataOffset(name)) + offset, length);
  }

  /** A whole entry, inflated if deflated (for small entries such as data.pkl). */
  async readAll(name: string): Promise<Uint8Array> {
    const e = this.entry(name);
    if (e.method === 0) return this.readRange(name, 0, e.uncompressedSize);
    if (e.method !== 8) {
      throw new ZipError(
        `${this.source.name}: entry ${name} uses unsupported compression method ${e.method}`,
      );
    }
    if (e.uncompressedSize > MAX_DEFLATED_BYTES) {
      throw new ZipError(
        `${this.source.name}: deflated entry ${name} is too large to inflate in memory`,
      );
    }
    const raw = await this.source.read(await this.dataOffset(name), e.compressedSize);
    let out: Uint8Array;
    try {
      out = inflateSync(raw, { out: new Uint8Array(e.uncompressedSize) });
    } catch (error) {
      throw new ZipError(
        `${this.source.name}: entry ${name} does not inflate: ${(error as Error).message}`,
      );
    }
    return out;
  }
}
