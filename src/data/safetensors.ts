/**
 * The safetensors format (https://github.com/huggingface/safetensors):
 * 8 bytes little-endian u64 header length N, N bytes of JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}},
 * then the tensors' bytes, little-endian, offsets relative to the end of the header.
 *
 * One set of rules for every reader: `safetensorsHeaderLength` and `parseSafetensorsHeader`
 * check the prefix and the header against the file's size, and take only those bytes, so
 * `SafetensorsFile` (a whole file in memory: checkpoints, fixtures) and the exporter's
 * `openSafetensors` (src/onnx/safetensorsSource.ts: multi-GB files read by range from a
 * ByteSource) accept and refuse the same files with the same messages. Every check the format
 * allows is made, so a truncated download or a wrong file fails at load time instead of
 * producing garbage.
 */

/** Bytes per element of every dtype safetensors files (and torch.save archives) carry. */
export const SAFETENSORS_DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_BYTES;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range within the data section (after the header). */
  begin: number;
  end: number;
}

/** What the header says, checked against the file's size. */
export interface SafetensorsHeader {
  /** Offset of the data section from the start of the file: 8 + the header's length. */
  dataStart: number;
  entries: ReadonlyMap<string, SafetensorsEntry>;
  metadata: Readonly<Record<string, string>>;
}

/** A tensor table this large is a wrong file: a 7B checkpoint's header is well under 1 MiB. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
}

function failer(label: string): (msg: string) => never {
  return (msg) => {
    throw new SafetensorsError(`${label}: ${msg}`);
  };
}

/**
 * The header's length from the file's first 8 bytes (`prefix`; fewer when the file is
 * shorter), checked against the file's size.
 */
export function safetensorsHeaderLength(
  prefix: Uint8Array,
  fileSize: number,
  label: string,
): number {
  const fail = failer(label);
  if (fileSize < 8 || prefix.byteLength < 8)
    fail(`${fileSize} bytes, too short for the 8-byte header length`);
  const headerLength = Number(
    new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true),
  );
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} is implausibly large`);
  if (8 + headerLength > fileSize) {
    fail(`header length ${headerLength} runs past the end of the ${fileSize}-byte file`);
  }
  return headerLength;
}

/**
 * Parses the JSON header (the `safetensorsHeaderLength` bytes after the prefix) and checks
 * every entry against the data section the file's size leaves; no tensor byte is read.
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  fileSize: number,
  label: string,
): SafetensorsHeader {
  const fail = failer(label);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (error) {
    fail(
      `header is not valid UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail('header is not a JSON object');
  }
  const dataStart = 8 + json.byteLength;
  const dataLength = fileSize - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        fail('__metadata__ is not an object');
      metadata = value as Record<string, string>;
      continue;
    }
    entries.set(name, parseEntry(name, value, dataLength, fail));
  }
  // The format requires the tensors to tile the data section: no overlaps, no holes.
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin);
  let expectedBegin = 0;
  for (const e of sorted) {
    if (e.begin !== expectedBegin) {
      fail(
        e.begin < expectedBegin
          ? `tensor "${e.name}" overlaps the previous tensor (starts at ${e.begin}, previous ends at ${expectedBegin})`
          : `${e.begin - expectedBegin} unused bytes before tensor "${e.name}"`,
      );
    }
    expectedBegin = e.end;
  }
  if (expectedBegin !== dataLength) {
    fail(`data section is ${dataLength} bytes but the tensors cover ${expectedBegin}`);
  }
  return { dataStart, entries, metadata };
}

/** A safetensors file held whole in memory. */
export class SafetensorsFile {
  private constructor(
    private readonly bytes: Uint8Array,
    /** Offset of the data section in `bytes`. */
    private readonly dataStart: number,
    readonly entries: ReadonlyMap<string, SafetensorsEntry>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Parses the header and checks every entry against the buffer (no tensor is copied yet). */
  static parse(input: ArrayBuffer | Uint8Array, label = 'safetensors'): SafetensorsFile {
    const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
    const size = bytes.byteLength;
    const headerLength = safetensorsHeaderLength(bytes.subarray(0, 8), size, label);
    const header = parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), size, label);
    return new SafetensorsFile(bytes, header.dataStart, header.entries, header.metadata);
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (!e)
      throw new SafetensorsError(
        `no tensor "${name}" (have: ${this.names.slice(0, 20).join(', ')}${this.entries.size > 20 ? ', …' : ''})`,
      );
    return e;
  }

  /** The tensor's raw little-endian bytes (a copy, so typed views on it are aligned). */
  rawBytes(name: string): Uint8Array {
    const e = this.entry(name);
    // Not bytes.slice(): on a Node Buffer that returns a view into a shared pool.
    const copy = new Uint8Array(e.end - e.begin);
    copy.set(this.bytes.subarray(this.dataStart + e.begin, this.dataStart + e.end));
    return copy;
  }

  /** A floating-point tensor as f32 (F64 is rounded, F16/BF16 widened exactly). */
  float32(name: string): Float32Array {
    const e = this.entry(name);
    const raw = this.rawBytes(name);
    switch (e.dtype) {
      case 'F32':
        return new Float32Array(raw.buffer);
      case 'F64':
        return Float32Array.from(new Float64Array(raw.buffer));
      case 'F16':
        return Float32Array.from(new Uint16Array(raw.buffer), halfToFloat);
      case 'BF16':
        return Float32Array.from(new Uint16Array(raw.buffer), bfloat16ToFloat);
      default:
        throw new SafetensorsError(`tensor "${name}" is ${e.dtype}, not a floating-point type`);
    }
  }

  /** A floating-point tensor as f64 (exact for every floating dtype here). */
  float64(name: string): Float64Array {
    const e = this.entry(name);
    if (e.dtype === 'F64') return new Float64Array(this.rawBytes(name).buffer);
    return Float64Array.from(this.float32(name));
  }

  /** An integer tensor as JS numbers; I64 values beyond ±2^53 are refused rather than rounded. */
  integers(name: string): number[] {
    const e = this.entry(name);
    const raw = this.rawBytes(name);
    switch (e.dtype) {
      case 'I32':
        return [...new Int32Array(raw.buffer)];
      case 'I16':
        return [...new Int16Array(raw.buffer)];
      case 'I8':
        return [...new Int8Array(raw.buffer)];
      case 'U8':
        return [...raw];
      case 'I64':
        return [...new BigInt64Array(raw.buffer)].map((v) => {
          if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
            throw new SafetensorsError(
              `tensor "${name}": I64 value ${v} is not exactly representable`,
            );
          return Number(v);
        });
      default:
        throw new SafetensorsError(`tensor "${name}" is ${e.dtype}, not an integer type`);
    }
  }
}

function parseEntry(
  name: string,
  value: unknown,
  dataLength: number,
  fail: (msg: string) => never,
): SafetensorsEntry {
  if (typeof value !== 'object' || value === null) fail(`tensor "${name}": entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dtype)) {
    fail(
      `tensor "${name}": unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`tensor "${name}": data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    fail(
      `tensor "${name}": data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section (truncated file?)`,
    );
  }
  const dims = shape as number[];
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDType];
  if (end - begin !== expected) {
    fail(
      `tensor "${name}": ${dtype} [${dims.join(', ')}] needs ${expected} bytes, data_offsets give ${end - begin}`,
    );
  }
  return { name, dtype: dtype as SafetensorsDType, shape: dims, begin, end };
}

/** IEEE 754 binary16 → number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 (the top 16 bits of an f32) → number (exact). */
export function bfloat16ToFloat(b: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, b << 16, false);
  return view.getFloat32(0, false);
}

/** A tensor to write (little-endian hosts: every browser and Node platform we run on). */
export interface SafetensorsTensor {
  dtype: 'F32' | 'F64' | 'I32' | 'U8';
  shape: readonly number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/**
 * Writes a safetensors file: tensors in the given order, each data offset aligned to 8 bytes
 * (the header is padded with spaces, as the reference implementation does), metadata as a
 * string map. The result reads back with SafetensorsFile.parse and with Python's safetensors.
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsTensor> | Record<string, SafetensorsTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const list: [string, SafetensorsTensor][] =
    tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    const expected = t.shape.reduce((a: number, b: number) => a * b, 1);
    if (t.data.length !== expected) {
      throw new SafetensorsError(
        `${name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`,
      );
    }
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  if (padded !== json.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, t] of list) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
