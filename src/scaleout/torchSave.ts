/**
 * Writes a state dict as PyTorch's `torch.save` writes one (the zip format PyTorch has used
 * since 1.6), so ml-l3m's `torch.load(path, map_location="cpu", mmap=True)` reads it:
 *
 *   archive/data.pkl     pickle (protocol 2) of an OrderedDict key → tensor, each tensor
 *                        `torch._utils._rebuild_tensor_v2(persistent storage, 0, size, stride,
 *                        False, OrderedDict())` — only globals torch's weights_only loader allows
 *   archive/data/<i>     each storage's raw little-endian float32 bytes
 *   archive/byteorder    "little";  archive/version  "3"
 *
 * Entries are stored uncompressed and each one's data starts on a 64-byte boundary (padding
 * in the local header's extra field, as PyTorch does), which mmap loading relies on.
 */

export interface StateTensor {
  shape: readonly number[];
  data: Float32Array;
}

class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;
  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.byteLength;
  }
  u8(...values: number[]): void {
    this.bytes(Uint8Array.from(values));
  }
  u16(v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.bytes(b);
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.bytes(b);
  }
  i32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    this.bytes(b);
  }
  ascii(s: string): void {
    this.bytes(new TextEncoder().encode(s));
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

function pickleInt(w: ByteWriter, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`pickle: bad integer ${v}`);
  if (v < 0x80000000) {
    w.u8(0x4a); // BININT
    w.i32(v);
    return;
  }
  // LONG1: little-endian two's complement, with a zero high byte so it stays positive.
  const bytes: number[] = [];
  let x = BigInt(v);
  while (x > 0n) {
    bytes.push(Number(x & 0xffn));
    x >>= 8n;
  }
  bytes.push(0);
  w.u8(0x8a, bytes.length, ...bytes);
}

function pickleString(w: ByteWriter, s: string): void {
  const utf8 = new TextEncoder().encode(s);
  w.u8(0x58); // BINUNICODE
  w.u32(utf8.byteLength);
  w.bytes(utf8);
}

function pickleGlobal(w: ByteWriter, module: string, name: string): void {
  w.u8(0x63); // GLOBAL
  w.ascii(`${module}\n${name}\n`);
}

function pickleTuple(w: ByteWriter, items: readonly number[]): void {
  w.u8(0x28); // MARK
  for (const x of items) pickleInt(w, x);
  w.u8(0x74); // TUPLE
}

function emptyOrderedDict(w: ByteWriter): void {
  pickleGlobal(w, 'collections', 'OrderedDict');
  w.u8(0x29, 0x52); // EMPTY_TUPLE, REDUCE
}

function contiguousStrides(shape: readonly number[]): number[] {
  const stride: number[] = [];
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = s;
    s *= shape[i];
  }
  return stride;
}

/** The pickle of an OrderedDict of float32 tensors whose storages are named "0", "1", …. */
export function statePickle(keys: readonly string[], shapes: readonly (readonly number[])[]) {
  const w = new ByteWriter();
  w.u8(0x80, 2); // PROTO 2
  emptyOrderedDict(w);
  w.u8(0x28); // MARK
  keys.forEach((key, i) => {
    const shape = shapes[i];
    const numel = shape.reduce((a, b) => a * b, 1);
    pickleString(w, key);
    pickleGlobal(w, 'torch._utils', '_rebuild_tensor_v2');
    w.u8(0x28); // MARK (the arguments)
    w.u8(0x28); // MARK (the persistent id)
    pickleString(w, 'storage');
    pickleGlobal(w, 'torch', 'FloatStorage');
    pickleString(w, String(i));
    pickleString(w, 'cpu');
    pickleInt(w, numel);
    w.u8(0x74, 0x51); // TUPLE, BINPERSID
    pickleInt(w, 0);
    pickleTuple(w, shape);
    pickleTuple(w, contiguousStrides(shape));
    w.u8(0x89); // NEWFALSE (requires_grad)
    emptyOrderedDict(w); // backward hooks
    w.u8(0x74, 0x52); // TUPLE, REDUCE
  });
  w.u8(0x75, 0x2e); // SETITEMS, STOP
  return w.concat();
}

let crcTable: Uint32Array | undefined;

export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const ALIGN = 64;

/** A zip of stored (uncompressed) entries, each entry's data 64-byte aligned. */
export function storedZip(entries: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const w = new ByteWriter();
  const central = new ByteWriter();
  for (const { name, data } of entries) {
    const nameBytes = new TextEncoder().encode(name);
    const offset = w.length;
    const headerEnd = offset + 30 + nameBytes.length;
    // The extra field (id "FB", as PyTorch's) pads the data start to the alignment.
    const pad = (ALIGN - ((headerEnd + 4) % ALIGN)) % ALIGN;
    const extraLength = 4 + pad;
    const crc = crc32(data);
    if (data.byteLength >= 0xffffffff || offset >= 0xffffffff)
      throw new RangeError(`${name}: zip64 is not supported (file over 4 GB)`);
    w.u32(0x04034b50);
    w.u16(20); // version needed
    w.u16(0x0800); // flags: UTF-8 names
    w.u16(0); // stored
    w.u16(0);
    w.u16(0x21); // DOS time/date (fixed, so the same state dict gives the same bytes)
    w.u32(crc);
    w.u32(data.byteLength);
    w.u32(data.byteLength);
    w.u16(nameBytes.length);
    w.u16(extraLength);
    w.bytes(nameBytes);
    w.u16(0x4246);
    w.u16(pad);
    w.bytes(new Uint8Array(pad));
    w.bytes(data);
    central.u32(0x02014b50);
    central.u16(20);
    central.u16(20);
    central.u16(0x0800);
    central.u16(0);
    central.u16(0);
    central.u16(0x21);
    central.u32(crc);
    central.u32(data.byteLength);
    central.u32(data.byteLength);
    central.u16(nameBytes.length);
    central.u16(0);
    central.u16(0);
    central.u16(0);
    central.u16(0);
    central.u32(0);
    central.u32(offset);
    central.bytes(nameBytes);
  }
  const centralOffset = w.length;
  const centralBytes = central.concat();
  w.bytes(centralBytes);
  w.u32(0x06054b50);
  w.u16(0);
  w.u16(0);
  w.u16(entries.length);
  w.u16(entries.length);
  w.u32(centralBytes.byteLength);
  w.u32(centralOffset);
  w.u16(0);
  return w.concat();
}

/** `torch.save(OrderedDict(tensors))` as bytes (keys in the map's order). */
export function torchSaveStateDict(tensors: ReadonlyMap<string, StateTensor>): Uint8Array {
  const keys = [...tensors.keys()];
  const shapes = keys.map((k) => tensors.get(k)!.shape);
  for (const k of keys) {
    const t = tensors.get(k)!;
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length)
      throw new RangeError(`${k}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
  }
  const entries = [
    { name: 'archive/data.pkl', data: statePickle(keys, shapes) },
    { name: 'archive/byteorder', data: new TextEncoder().encode('little') },
    ...keys.map((k, i) => {
      const d = tensors.get(k)!.data;
      return {
        name: `archive/data/${i}`,
        data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
      };
    }),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ];
  return storedZip(entries);
}
