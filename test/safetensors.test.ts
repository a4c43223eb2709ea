import { FIXTURE_DIR } from './fixtures';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bfloat16ToFloat,
  halfToFloat,
  SafetensorsError,
  SafetensorsFile,
} from '../src/data/safetensors';
import { bytesByteSource } from '../src/onnx/byteSource';
import { openSafetensors } from '../src/onnx/safetensorsSource';

const FIXTURE = FIXTURE_DIR;

interface Spec {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Writes a safetensors file (test-only writer; the header is padded with spaces to 8 bytes). */
function writeSafetensors(
  tensors: Record<string, Spec>,
  metadata?: Record<string, string>,
  tamper: (header: Record<string, unknown>) => void = () => {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.bytes.length],
    };
    offset += t.bytes.length;
  }
  tamper(header);
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('safetensors reader', () => {
  it('reads F32, F64, I32, I64, F16, BF16 and U8 tensors and the metadata', () => {
    const f32 = Float32Array.from([1.5, -2, 3.25, 0, 1e-30, 7]);
    const f64 = Float64Array.from([Math.PI, -1e300]);
    const i32 = Int32Array.from([-5, 7, 2147483647]);
    const i64 = BigInt64Array.from([-3n, 2n ** 52n]);
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00]); // 1, −2, ≈1/3, 2⁻²⁴, +∞
    const bf16 = Uint16Array.from([0x3f80, 0xc0a0]); // 1, −5
    const file = SafetensorsFile.parse(
      writeSafetensors(
        {
          a: { dtype: 'F32', shape: [2, 3], bytes: bytesOf(f32) },
          b: { dtype: 'F64', shape: [2], bytes: bytesOf(f64) },
          c: { dtype: 'I32', shape: [3], bytes: bytesOf(i32) },
          d: { dtype: 'I64', shape: [2, 1], bytes: bytesOf(i64) },
          e: { dtype: 'F16', shape: [5], bytes: bytesOf(f16) },
          f: { dtype: 'BF16', shape: [2], bytes: bytesOf(bf16) },
          g: { dtype: 'U8', shape: [3], bytes: Uint8Array.from([0, 128, 255]) },
          empty: { dtype: 'F32', shape: [0, 4], bytes: new Uint8Array(0) },
        },
        { format: 'pt' },
      ),
    );
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.names.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'empty', 'f', 'g']);
    expect(file.entry('a').shape).toEqual([2, 3]);
    expect(file.float32('a')).toEqual(f32);
    expect(file.float64('b')).toEqual(f64);
    expect(file.float32('b')[0]).toBe(Math.fround(Math.PI));
    expect(file.integers('c')).toEqual([-5, 7, 2147483647]);
    expect(file.integers('d')).toEqual([-3, 2 ** 52]);
    expect([...file.float32('e')]).toEqual([1, -2, halfToFloat(0x3555), 2 ** -24, Infinity]);
    expect(Math.abs(halfToFloat(0x3555) - 1 / 3)).toBeLessThan(2 ** -11);
    expect([...file.float32('f')]).toEqual([1, -5]);
    expect(file.integers('g')).toEqual([0, 128, 255]);
    expect(file.float32('empty')).toHaveLength(0);
    expect(() => file.float32('c')).toThrow(/is I32, not a floating-point type/);
    expect(() => file.integers('a')).toThrow(/is F32, not an integer type/);
    expect(() => file.float32('nope')).toThrow(/no tensor "nope"/);
  });

  it('copies tensor data, so unaligned offsets still give aligned typed arrays', () => {
    const file = SafetensorsFile.parse(
      writeSafetensors({
        byte: { dtype: 'U8', shape: [1], bytes: Uint8Array.from([9]) },
        x: { dtype: 'F32', shape: [2], bytes: bytesOf(Float32Array.from([0.5, 4])) },
      }),
    );
    expect(file.entry('x').begin).toBe(1);
    expect([...file.float32('x')]).toEqual([0.5, 4]);
  });

  it('refuses I64 values that a JS number cannot hold exactly', () => {
    const file = SafetensorsFile.parse(
      writeSafetensors({
        big: { dtype: 'I64', shape: [1], bytes: bytesOf(BigInt64Array.from([2n ** 60n])) },
      }),
    );
    expect(() => file.integers('big')).toThrow(/not exactly representable/);
  });

  it('reads the fixture files written by Python safetensors', () => {
    const weights = SafetensorsFile.parse(
      readFileSync(`${FIXTURE}/weights.safetensors`),
      'weights',
    );
    const config = JSON.parse(readFileSync(`${FIXTURE}/config.json`, 'utf8')) as { keys: string[] };
    expect(weights.names.sort()).toEqual([...config.keys].sort());
    expect(weights.entry('preprocessor.patchifier.proj.weight')).toMatchObject({
      dtype: 'F32',
      shape: [64, 3, 4, 4],
    });
    expect(weights.metadata.format).toBe('pt');
    const cases = SafetensorsFile.parse(readFileSync(`${FIXTURE}/cases.safetensors`), 'cases');
    expect(cases.entry('input').shape).toEqual([2, 3, 32, 32]);
    expect(cases.entry('prefix_lengths').dtype).toBe('I32');
    expect(cases.integers('prefix_lengths')).toHaveLength(2);
  });
});

describe('safetensors reader: malformed files fail with a clear message', () => {
  const good = () =>
    writeSafetensors({
      a: { dtype: 'F32', shape: [2], bytes: bytesOf(Float32Array.from([1, 2])) },
      b: { dtype: 'F32', shape: [1], bytes: bytesOf(Float32Array.from([3])) },
    });
  const headerLength = (file: Uint8Array) =>
    Number(new DataView(file.buffer).getBigUint64(0, true));

  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['shorter than 8 bytes', () => new Uint8Array(5), /too short/],
    [
      'header length past the end',
      () => {
        const f = good();
        new DataView(f.buffer).setBigUint64(0, BigInt(f.length), true);
        return f;
      },
      /runs past the end/,
    ],
    [
      'absurd header length',
      () => {
        const f = good();
        new DataView(f.buffer).setBigUint64(0, 2n ** 62n, true);
        return f;
      },
      /implausibly large/,
    ],
    [
      'header is not JSON',
      () => {
        const f = good();
        f[8] = '#'.charCodeAt(0);
        return f;
      },
      /not valid UTF-8 JSON/,
    ],
    [
      'header is a JSON array',
      () => {
        const json = new TextEncoder().encode('[1, 2]  ');
        const f = new Uint8Array(8 + json.length);
        new DataView(f.buffer).setBigUint64(0, BigInt(json.length), true);
        f.set(json, 8);
        return f;
      },
      /not a JSON object/,
    ],
    [
      'truncated data',
      () => good().slice(0, -4),
      /run past the .*data section \(truncated file\?\)/,
    ],
    [
      'trailing bytes',
      () => Uint8Array.from([...good(), 0, 0, 0, 0]),
      /data section is 16 bytes but the tensors cover 12/,
    ],
    [
      'unknown dtype',
      () =>
        writeSafetensors(
          { a: { dtype: 'F32', shape: [1], bytes: new Uint8Array(4) } },
          undefined,
          (h) => {
            (h.a as Record<string, unknown>).dtype = 'C64';
          },
        ),
      /unsupported dtype "C64"/,
    ],
    [
      'shape and byte size disagree',
      () => writeSafetensors({ a: { dtype: 'F32', shape: [3], bytes: new Uint8Array(8) } }),
      /F32 \[3\] needs 12 bytes, data_offsets give 8/,
    ],
    [
      'negative dimension',
      () => writeSafetensors({ a: { dtype: 'F32', shape: [-1], bytes: new Uint8Array(0) } }),
      /shape \[-1\] is not a list of non-negative integers/,
    ],
    [
      'overlapping tensors',
      () =>
        writeSafetensors(
          {
            a: { dtype: 'F32', shape: [2], bytes: new Uint8Array(8) },
            b: { dtype: 'F32', shape: [1], bytes: new Uint8Array(4) },
          },
          undefined,
          (h) => {
            (h.b as Record<string, unknown>).data_offsets = [4, 8];
          },
        ),
      /overlaps the previous tensor|cover/,
    ],
    [
      'data_offsets malformed',
      () =>
        writeSafetensors(
          { a: { dtype: 'F32', shape: [1], bytes: new Uint8Array(4) } },
          undefined,
          (h) => {
            (h.a as Record<string, unknown>).data_offsets = [0];
          },
        ),
      /data_offsets \[0\] is not \[begin, end\]/,
    ],
  ];
  for (const [name, make, message] of cases) {
    it(name, () => {
      let error: unknown;
      try {
        SafetensorsFile.parse(make(), 'test.safetensors');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SafetensorsError);
      expect((error as Error).message).toMatch(/^test\.safetensors: /);
      expect((error as Error).message).toMatch(message);
    });

    it(`${name}: read by range from a byte source, the same refusal`, async () => {
      const bytes = make();
      let inMemory = '';
      try {
        SafetensorsFile.parse(bytes, 'test.safetensors');
      } catch (e) {
        inMemory = (e as Error).message;
      }
      const opened = openSafetensors(bytesByteSource(bytes, 'test.safetensors'));
      await expect(opened).rejects.toBeInstanceOf(SafetensorsError);
      await expect(opened).rejects.toThrow(inMemory);
    });
  }

  it('a byte source and memory read the same entries and bytes, I16, I8 and BOOL included', async () => {
    const bytes = writeSafetensors(
      {
        a: { dtype: 'F32', shape: [2], bytes: bytesOf(Float32Array.from([1, 2])) },
        h: { dtype: 'I16', shape: [2], bytes: bytesOf(Int16Array.from([-300, 7])) },
        c: { dtype: 'I8', shape: [1], bytes: Uint8Array.from([0xff]) },
        m: { dtype: 'BOOL', shape: [3], bytes: Uint8Array.from([1, 0, 1]) },
      },
      { note: 'x' },
    );
    const file = SafetensorsFile.parse(bytes, 'both');
    const source = await openSafetensors(bytesByteSource(bytes, 'both'));
    expect([...source.entries.values()]).toEqual([...file.entries.values()]);
    expect(source.metadata).toEqual(file.metadata);
    for (const name of file.names)
      expect(await source.readBytes(name)).toEqual(file.rawBytes(name));
    expect(file.integers('h')).toEqual([-300, 7]);
    expect(file.integers('c')).toEqual([-1]);
    await expect(source.readBytes('nope')).rejects.toThrow(/^both: no tensor "nope"/);
  });

  it('the well-formed file used above parses (so each failure is due to its one defect)', () => {
    const f = good();
    expect(headerLength(f) % 8).toBe(0);
    expect([...SafetensorsFile.parse(f).float32('b')]).toEqual([3]);
  });

  it('bfloat16ToFloat and halfToFloat handle signs, subnormals and NaN', () => {
    expect(bfloat16ToFloat(0x8000)).toBe(-0);
    expect(bfloat16ToFloat(0x7fc0)).toBeNaN();
    expect(halfToFloat(0x8001)).toBe(-(2 ** -24));
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(halfToFloat(0x7bff)).toBe(65504);
  });
});
