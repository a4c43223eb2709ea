import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile, writeSafetensors } from '../src/data/safetensors';
import { FIXTURE_DIR } from './fixtures';

describe('safetensors writer', () => {
  it('round-trips tensors and metadata bit-exactly', () => {
    const a = Float32Array.from([1.5, -0, NaN, Infinity, 3e-38]);
    const b = Int32Array.from([7, -8, 2 ** 31 - 1]);
    const bytes = writeSafetensors(
      new Map([
        ['x.weight', { dtype: 'F32', shape: [5], data: a }],
        ['step', { dtype: 'I32', shape: [3], data: b }],
        ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
      ] as const),
      { format: 'aim-playground', step: '12' },
    );
    const file = SafetensorsFile.parse(bytes, 'roundtrip');
    expect(new Uint8Array(file.float32('x.weight').buffer)).toEqual(new Uint8Array(a.buffer));
    expect(file.integers('step')).toEqual([7, -8, 2 ** 31 - 1]);
    expect(file.entry('empty').shape).toEqual([0, 4]);
    expect(file.metadata).toEqual({ format: 'aim-playground', step: '12' });
    // Data starts 8-byte aligned, as the reference implementation writes it.
    expect((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8).toBe(0);
  });

  it('rewrites the ml-aim fixture weights identically', () => {
    const original = SafetensorsFile.parse(
      readFileSync(`${FIXTURE_DIR}/weights.safetensors`),
      'fixture',
    );
    const tensors = new Map(
      original.names.map((name) => [
        name,
        { dtype: 'F32' as const, shape: original.entry(name).shape, data: original.float32(name) },
      ]),
    );
    const again = SafetensorsFile.parse(writeSafetensors(tensors), 'rewritten');
    expect(again.names.sort()).toEqual(original.names.sort());
    for (const name of original.names) expect(again.float32(name)).toEqual(original.float32(name));
  });

  it('refuses a shape that does not match the data', () => {
    expect(() =>
      writeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
    ).toThrow(/3 values for shape \[2, 2\]/);
  });
});
