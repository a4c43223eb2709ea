/**
 * A small reader for uncompressed tar archives (POSIX ustar, GNU and pax variants), enough
 * for cifar-10-binary.tar.gz after gunzip: 512-byte headers, each followed by the file's data
 * padded to 512 bytes, ended by a zero block. Only regular files are returned (directories,
 * links and devices are passed over); GNU long names ('L') and pax 'path'/'size' records
 * ('x') are honoured. Every header's checksum is verified and truncation anywhere is an
 * error naming the entry, so a damaged download fails loudly instead of yielding short files.
 */

export interface TarEntry {
  /** Path inside the archive, '/'-separated. */
  name: string;
  /** A view into the archive's bytes (no copy). */
  data: Uint8Array;
}

export class TarFormatError extends Error {
  override readonly name = 'TarFormatError';
}

const BLOCK = 512;

function readString(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

/** A numeric field: octal text (space/NUL terminated), or GNU base-256 when the top bit is set. */
function readNumber(bytes: Uint8Array, start: number, length: number, what: string): number {
  if (bytes[start] & 0x80) {
    let value = bytes[start] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + bytes[start + i];
    if (!Number.isSafeInteger(value)) throw new TarFormatError(`${what} is too large`);
    return value;
  }
  const text = readString(bytes, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`${what} '${text}' is not an octal number`);
  return parseInt(text, 8);
}

function isZeroBlock(bytes: Uint8Array, offset: number): boolean {
  for (let i = offset; i < offset + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** pax extended header records: "<length> <key>=<value>\n", length in bytes. */
function parsePax(data: Uint8Array, where: string): Map<string, string> {
  const records = new Map<string, string>();
  const decoder = new TextDecoder();
  let pos = 0;
  while (pos < data.length && data[pos] !== 0) {
    const space = data.indexOf(0x20, pos);
    const length = space < 0 ? NaN : Number(decoder.decode(data.subarray(pos, space)));
    if (!Number.isInteger(length) || length <= space - pos || pos + length > data.length) {
      throw new TarFormatError(`${where}: malformed pax record`);
    }
    const record = decoder.decode(data.subarray(space + 1, pos + length - 1));
    const eq = record.indexOf('=');
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return records;
}

/** The regular files of a tar archive, in archive order. */
export function readTar(bytes: Uint8Array, label = 'tar archive'): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | null = null;
  let pax: Map<string, string> | null = null;
  for (;;) {
    if (offset + BLOCK > bytes.length) {
      throw new TarFormatError(
        offset === bytes.length
          ? `${label}: ends after ${entries.length} files without the end-of-archive block (truncated?)`
          : `${label}: truncated inside a header at byte ${offset}`,
      );
    }
    if (isZeroBlock(bytes, offset)) return entries;
    const where = `${label}, header at byte ${offset}`;
    let checksum = 0;
    for (let i = 0; i < BLOCK; i++) {
      checksum += i >= 148 && i < 156 ? 0x20 : bytes[offset + i];
    }
    const stored = readNumber(bytes, offset + 148, 8, `${where}: checksum`);
    if (stored !== checksum) {
      throw new TarFormatError(
        `${where}: header checksum ${stored} ≠ computed ${checksum} (corrupt or not a tar archive)`,
      );
    }
    const type = String.fromCharCode(bytes[offset + 156] || 0x30);
    let name = readString(bytes, offset, 100);
    const magic = readString(bytes, offset + 257, 6);
    if (magic.startsWith('ustar')) {
      const prefix = readString(bytes, offset + 345, 155);
      if (prefix && magic === 'ustar') name = `${prefix}/${name}`;
    }
    let size = readNumber(bytes, offset + 124, 12, `${where}: size`);
    if (pax?.has('size')) {
      size = Number(pax.get('size'));
      if (!Number.isSafeInteger(size) || size < 0)
        throw new TarFormatError(`${where}: bad pax size`);
    }
    if (pax?.has('path')) name = pax.get('path')!;
    if (longName !== null) name = longName;
    const dataStart = offset + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new TarFormatError(
        `${label}: '${name}' needs ${size} bytes but the archive ends after ${bytes.length - dataStart} (truncated)`,
      );
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = readString(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      pax = parsePax(data, where);
      continue;
    }
    // Global pax headers and GNU long link names: nothing we use.
    if (type === 'g' || type === 'K') continue;
    longName = null;
    pax = null;
    // Old (v7) archives mark directories only by a trailing slash on a regular-file entry.
    if ((type === '0' || type === '7') && !name.endsWith('/')) entries.push({ name, data });
    // Directories ('5'), links ('1', '2'), devices and FIFOs carry no file data we want.
  }
}
