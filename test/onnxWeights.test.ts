/**
 * Weight encodings of the ONNX exporter: binary16 rounding, the 4-bit MatMulNBits packing
 * (checked against onnxruntime's own kernel on a K that is not a multiple of the block and
 * an odd number of blocks), and the external-data shard writer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import { halfToFloat } from '../src/data/safetensors';
import { randomF32 } from '../src/reference/random';
import {
  ExternalDataWriter,
  memoryDataSink,
  readShardTag,
  shardTag,
} from '../src/onnx/externalData';
import { directorySink } from '../src/onnx/fileSink.node';
import { floatToHalfBits } from '../src/onnx/float16';
import { DataType, GraphBuilder, MICROSOFT_DOMAIN } from '../src/onnx/graph';
import { dequantizeInt4, INT4_BLOCK, quantizeInt4 } from '../src/onnx/int4';
import { worstRatio } from './compare';

const work = mkdtempSync(join(tmpdir(), 'aim-onnx-w-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('binary16 rounding', () => {
  test('every finite half round-trips, and midpoints round to even', () => {
    const wrong: string[] = [];
    let ties = 0;
    for (let h = 0; h < 0x10000; h++) {
      if (((h >> 10) & 0x1f) === 0x1f) continue; // Inf/NaN: below
      if (floatToHalfBits(halfToFloat(h)) !== h) wrong.push(`round trip ${h}`);
      // The midpoint to the next half of the same sign ties to the even mantissa.
      if ((h & 0x7fff) === 0x7bff) continue; // 65504's upper midpoint rounds to Inf (below)
      const next = h + 1;
      const mid = (halfToFloat(h) + halfToFloat(next)) / 2;
      if (Math.fround(mid) !== mid) continue;
      ties++;
      if (floatToHalfBits(mid) !== (h & 1 ? next : h)) wrong.push(`tie ${h}`);
    }
    expect(wrong).toEqual([]);
    expect(ties).toBeGreaterThan(60000);
  });

  test('overflow, underflow, infinities and NaN', () => {
    expect(floatToHalfBits(65520)).toBe(0x7c00); // the midpoint above 65504 ties to even: Inf
    expect(floatToHalfBits(65519)).toBe(0x7bff);
    expect(floatToHalfBits(-1e9)).toBe(0xfc00);
    expect(floatToHalfBits(2 ** -25)).toBe(0); // exactly half the smallest subnormal: even → 0
    expect(floatToHalfBits(2 ** -25 * 1.5)).toBe(1);
    expect(floatToHalfBits(-(2 ** -30))).toBe(0x8000);
    expect(floatToHalfBits(Infinity)).toBe(0x7c00);
    expect(floatToHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalfBits(NaN) & 0x3ff).not.toBe(0);
  });
});

describe('int4 MatMulNBits packing', () => {
  test('per-block error ≤ scale/2, zero exact, low nibble first, padding dequantizes to 0', () => {
    const n = 3;
    const k = 72; // 3 blocks: the last one has 8 real values and 24 of padding
    const w = randomF32(n * k, 11);
    w[5] = 0;
    const q = quantizeInt4(w, n, k);
    expect(q.blocks).toBe(3);
    expect(q.packed).toHaveLength(n * 3 * 16);
    expect(q.zeroPoints).toHaveLength(n * 2); // ⌈3/2⌉ bytes a row
    const deq = dequantizeInt4(q);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < k; i++) {
        const s = q.scales[r * 3 + Math.floor(i / INT4_BLOCK)];
        expect(Math.abs(deq[r * k + i] - w[r * k + i])).toBeLessThanOrEqual(s / 2 + 1e-7);
      }
    }
    expect(deq[5]).toBe(0);
    // Element 0 of row 0 is the low nibble of byte 0, element 1 the high one.
    const zero0 = q.zeroPoints[0] & 15;
    expect(((q.packed[0] & 15) - zero0) * q.scales[0]).toBeCloseTo(deq[0], 12);
    expect(((q.packed[0] >> 4) - zero0) * q.scales[0]).toBeCloseTo(deq[1], 12);
    // Padding codes equal the block's zero point (row 0, block 2, bytes 4…15).
    const zero2 = q.zeroPoints[1] & 15;
    expect(q.packed[2 * 16 + 15]).toBe(zero2 | (zero2 << 4));
  });

  async function runMatMulNBits(
    packed: Uint8Array,
    q: ReturnType<typeof quantizeInt4>,
    x: Float32Array,
    m: number,
  ) {
    const dir = join(work, `nbits${Math.random().toString(36).slice(2)}`);
    const writer = new ExternalDataWriter(await directorySink(dir), 'model.onnx.data');
    const g = new GraphBuilder(writer);
    const b = await g.external('B', DataType.UINT8, [q.n, q.blocks, 16], packed);
    const s = await g.external(
      'scales',
      DataType.FLOAT,
      [q.n, q.blocks],
      new Uint8Array(q.scales.buffer),
    );
    const z = await g.external('zp', DataType.UINT8, [q.n, Math.ceil(q.blocks / 2)], q.zeroPoints);
    g.op(
      'MatMulNBits',
      ['A', b, s, z],
      { K: q.k, N: q.n, bits: 4, block_size: 32 },
      { domain: MICROSOFT_DOMAIN, output: 'Y' },
    );
    await writer.close();
    const bytes = g.encode({
      graphName: 't',
      inputs: [['A', { elemType: DataType.FLOAT, shape: ['m', q.k] }]],
      outputs: [['Y', { elemType: DataType.FLOAT, shape: ['m', q.n] }]],
      metadata: {},
      producerVersion: 'test',
    });
    const sink = await directorySink(dir);
    const f = await sink.create('model.onnx');
    await f.write(bytes);
    await f.close();
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const out = await session.run({ A: new ort.Tensor('float32', x, [m, q.k]) });
    await session.release();
    return out.Y.data as Float32Array;
  }

  test("onnxruntime's MatMulNBits computes x·dequant(W)ᵀ with our packing (K = 72, 3 blocks)", async () => {
    const n = 5;
    const k = 72;
    const m = 3;
    const q = quantizeInt4(randomF32(n * k, 21), n, k);
    const x = randomF32(m * k, 22);
    const deq = dequantizeInt4(q);
    const want = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++)
        for (let t = 0; t < k; t++) want[i * n + j] += x[i * k + t] * deq[j * k + t];
    // f32 dot products of length 72 with |terms| ≤ 1·max|w|: error ≤ 72·u·Σ|terms| < 1e-5.
    const got = await runMatMulNBits(q.packed, q, x, m);
    expect(worstRatio(got, want, 1e-5)).toBeLessThanOrEqual(1);
    // Swapping the two nibbles of every byte (the wrong packing order) fails the same check.
    const swapped = q.packed.map((b) => ((b & 15) << 4) | (b >> 4));
    expect(worstRatio(await runMatMulNBits(swapped, q, x, m), want, 1e-5)).toBeGreaterThan(1);
  });
});

describe('external-data shards', () => {
  test('aligned offsets, shard roll-over below the limit, tensors never split, tagged shards', async () => {
    const sink = memoryDataSink();
    const writer = new ExternalDataWriter(sink, 'm.onnx.data', 10_000, 'export-1');
    const a = await writer.add('a', new Uint8Array(10).fill(1)); // small: 64-byte alignment
    const b = await writer.add('b', new Uint8Array(3).fill(2));
    const c = await writer.add('c', new Uint8Array(5000).fill(3)); // ≥ a page: 4096 alignment
    const d = await writer.add('d', new Uint8Array(6000).fill(4)); // does not fit: next shard
    await writer.close();
    // Each shard's first 64 bytes are its tag, so the first tensor starts after it.
    expect(a).toEqual({ location: 'm.onnx.data_0', offset: 64, length: 10 });
    expect(b).toEqual({ location: 'm.onnx.data_0', offset: 128, length: 3 });
    expect(c).toEqual({ location: 'm.onnx.data_0', offset: 4096, length: 5000 });
    expect(d).toEqual({ location: 'm.onnx.data_1', offset: 4096, length: 6000 });
    expect(writer.shards).toEqual([
      { name: 'm.onnx.data_0', bytes: 9096 },
      { name: 'm.onnx.data_1', bytes: 10096 },
    ]);
    const shard0 = sink.files.get('m.onnx.data_0')!;
    expect(shard0[128]).toBe(2);
    expect(shard0[4095]).toBe(0);
    expect(shard0[4096]).toBe(3);
    expect(readShardTag(shard0)).toBe('export-1');
    expect(readShardTag(sink.files.get('m.onnx.data_1')!)).toBe('export-1');
    expect(readShardTag(new Uint8Array(64))).toBeUndefined();
    expect(() => shardTag('x'.repeat(49))).toThrow(/printable ASCII/);
    await expect(
      new ExternalDataWriter(sink, 'x', 100).add('big', new Uint8Array(101)),
    ).rejects.toThrow(/tensor big is 101 bytes, above the shard limit of 100/);
  });
});
