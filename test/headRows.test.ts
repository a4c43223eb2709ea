/**
 * The head and the loss on the counted rows only (src/model/headRows.ts, gpuHead.ts): the
 * row lists and buckets on the CPU; then the whole model with the head on the gathered rows
 * against the same model with the head on every row ('all') and against the float64
 * reference — loss, per-position losses, every gradient, and the predictions — for prefix 1,
 * prefix K − 1, mixed prefixes, batch 1, and batches large enough for several row buckets.
 */
import { describe, expect, it } from 'vitest';
import type { PreparedDispatch } from '../src/gpu/dispatch';
import { numPatches, type AimConfig } from '../src/model/config';
import { AimGpuModel } from '../src/model/gpuModel';
import {
  DispatchSlots,
  headRowBucket,
  headRowBuckets,
  headRowLists,
  NO_ROW,
} from '../src/model/headRows';
import { randomOrder } from '../src/model/orderings';
import { initParameters } from '../src/model/params';
import { modelBackwardReference } from '../src/model/referenceBackward';
import { isCountedPosition } from '../src/reference/patchMseLoss';
import { mulberry32, randomF32 } from '../src/reference/random';
import { mixedTolerance, worstRatio } from './compare';
import { testGpu } from './gpuContext';
import { tinyConfig } from './modelConfigs';

describe('head row lists and buckets (CPU)', () => {
  it('lists exactly the counted rows, in order, with their inverse and table rows', () => {
    const K = 5;
    const order = [3, 0, 4, 1, 2];
    const prefix = [1, 4, 5, 0, 2];
    const lists = headRowLists(prefix, order, 'counted');
    const want: number[] = [];
    for (let b = 0; b < prefix.length; b++)
      for (let i = 0; i < K; i++) if (isCountedPosition(i, prefix[b], K)) want.push(b * K + i);
    // S = 1 and S = 0: K − 1 rows; S = 4: one; S = K: none; S = 2: K − 2.
    expect(want.length).toBe(4 + 1 + 0 + 4 + 3);
    expect(lists.count).toBe(want.length);
    expect(Array.from(lists.rows.subarray(0, lists.count))).toEqual(want);
    expect(lists.rows.subarray(lists.count).every((r) => r === NO_ROW)).toBe(true);
    for (let r = 0; r < prefix.length * K; r++) {
      const m = want.indexOf(r);
      expect(lists.rowOf[r]).toBe(m < 0 ? NO_ROW : m);
    }
    want.forEach((r, m) => expect(lists.positions[m]).toBe(order[r % K]));
    const all = headRowLists(prefix, order, 'all');
    expect(all.count).toBe(prefix.length * K);
    expect(Array.from(all.rows)).toEqual(Array.from({ length: 25 }, (_, r) => r));
    expect(Array.from(all.rowOf)).toEqual(Array.from(all.rows));
  });

  it('buckets: ascending multiples of 64 ending at B·K; the smallest bucket that fits', () => {
    expect(headRowBuckets(4)).toEqual([4]);
    expect(headRowBuckets(160)).toEqual([64, 128, 160]);
    const big = headRowBuckets(256 * 256);
    expect(big.length).toBe(16);
    expect(big.every((n, i) => n % 64 === 0 && (i === 0 || n > big[i - 1]))).toBe(true);
    expect(big.at(-1)).toBe(65536);
    expect(headRowBucket(0, [64, 128, 160])).toBe(0);
    expect(headRowBucket(64, [64, 128, 160])).toBe(0);
    expect(headRowBucket(65, [64, 128, 160])).toBe(1);
    expect(headRowBucket(160, [64, 128, 160])).toBe(2);
    expect(() => headRowBucket(161, [64, 128, 160])).toThrow(/exceed/);
  });

  it('slots take the selected variant; shorter variants leave empty grids', () => {
    const fake = (name: string, x: number): PreparedDispatch =>
      ({
        name,
        pipeline: {} as GPUComputePipeline,
        bindGroup: {} as GPUBindGroup,
        workgroups: [x, 1, 1],
        owned: [],
        cost: { flops: x, bytesRead: 0, bytesWritten: 0 },
      }) as PreparedDispatch;
    const variants = [[fake('a', 1)], [fake('a', 2), fake('b', 3)]];
    const slots = new DispatchSlots(variants);
    expect(slots.slots.map((d) => d.workgroups[0])).toEqual([2, 3]);
    const kept = slots.slots[1];
    slots.select(0);
    expect(slots.slots[1]).toBe(kept);
    expect(slots.slots.map((d) => d.workgroups)).toEqual([
      [1, 1, 1],
      [0, 0, 0],
    ]);
    expect(slots.slots[1].cost).toBeUndefined();
    expect(slots.slots[0].cost?.flops).toBe(1);
    slots.select(1);
    expect(slots.slots.map((d) => d.name)).toEqual(['a', 'b']);
    expect(slots.slots[0].owned).toEqual([]);
  });
});

// Tolerances as test/gpuModel.test.ts derives them (the same graph, the same f32 kernels).
const GRAD_ATOL = 3e-5;
const GRAD_RTOL = 1e-4;
const LOSS_ATOL = 1e-6;
const LOSS_RTOL = 1e-5;

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

function ratio(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number) {
  return worstRatio(got, want, mixedTolerance(want, atol * maxAbs(want), rtol));
}

function randomParams(c: AimConfig, seed: number): Map<string, Float32Array> {
  const params = initParameters(c, seed);
  let s = seed * 1000;
  for (const [name, v] of params) {
    const noise = randomF32(v.length, ++s, -0.3, 0.3);
    params.set(
      name,
      Float32Array.from(v, (x, i) => x + noise[i]),
    );
  }
  return params;
}

/** Total workgroups of a dispatch list (what the gathered head saves). */
function workgroups(list: readonly PreparedDispatch[]): number {
  return list.reduce((n, d) => n + d.workgroups[0] * d.workgroups[1] * d.workgroups[2], 0);
}

const awkward: AimConfig = {
  ...tinyConfig(false),
  imageSize: 12,
  width: 12,
  heads: 3,
  depth: 1,
  head: { width: 12, depth: 0, extraNormTerm: false },
};

type PrefixRule = 'first' | 'last' | 'mixed';
const CASES: { name: string; config: AimConfig; batch: number; prefix: PrefixRule }[] = [
  // K = 4, B = 40: B·K = 160 rows in buckets 64, 128, 160.
  { name: 'prefix 1 (every target), B = 40', config: tinyConfig(true), batch: 40, prefix: 'first' },
  {
    name: 'prefix K − 1 (one target), B = 40',
    config: tinyConfig(false),
    batch: 40,
    prefix: 'last',
  },
  { name: 'mixed prefixes, B = 40', config: tinyConfig(true), batch: 40, prefix: 'mixed' },
  { name: 'mixed prefix, B = 1', config: tinyConfig(false), batch: 1, prefix: 'mixed' },
  { name: 'awkward K = 9, head depth 0, B = 3', config: awkward, batch: 3, prefix: 'mixed' },
];

describe('the head on the counted rows equals the head on every row', () => {
  CASES.forEach(({ name, config: c, batch, prefix: rule }, index) => {
    it(`${name}: loss, per-position losses, every gradient and the predictions`, async () => {
      const ctx = await testGpu();
      const K = numPatches(c);
      const g = c.imageSize / c.patchSize;
      const next = mulberry32(50 + index);
      const prefixLengths = Array.from({ length: batch }, () =>
        rule === 'first' ? 1 : rule === 'last' ? K - 1 : 1 + Math.floor(next() * (K - 1)),
      );
      const inputs = {
        batch,
        images: randomF32(batch * 3 * c.imageSize * c.imageSize, 60 + index, -2, 2),
        order: randomOrder(g, g, 70 + index),
        prefixLengths,
      };
      const params = randomParams(c, 80 + index);
      const ref = modelBackwardReference(c, params, inputs);
      const model = await AimGpuModel.create(ctx, c, batch);
      try {
        model.uploadParameters(params);
        const run = async (headRows: 'counted' | 'all') => {
          model.setInputs(inputs.images, inputs.order, inputs.prefixLengths, { headRows });
          const work = workgroups([...model.forwardDispatches, ...model.backwardDispatches]);
          await model.forwardBackward();
          return {
            work,
            loss: await model.readLoss(),
            perPosition: await model.outputs.perPosition.download(),
            pred: await model.outputs.pred.download(),
            grads: await model.downloadGradients(),
          };
        };
        // all → counted → all: each run must not depend on what the previous left behind.
        const all = await run('all');
        const counted = await run('counted');
        const again = await run('all');
        const lists = headRowLists(prefixLengths, inputs.order, 'counted');
        // Fewer workgroups whenever the counted rows fit a smaller bucket than B·K's.
        const buckets = headRowBuckets(batch * K);
        if (headRowBucket(lists.count, buckets) < buckets.length - 1)
          expect(counted.work).toBeLessThan(all.work);
        else expect(counted.work).toBe(all.work);
        expect(again.loss).toBe(all.loss);
        const P = 3 * c.patchSize * c.patchSize;
        for (const r of [all, counted]) {
          expect(ratio([r.loss], [ref.loss], LOSS_ATOL, LOSS_RTOL)).toBeLessThanOrEqual(1);
          expect(
            ratio(r.perPosition, ref.forward.perPosition, LOSS_ATOL, LOSS_RTOL),
          ).toBeLessThanOrEqual(1);
          for (const [key, want] of ref.grads)
            expect(ratio(r.grads.get(key)!, want, GRAD_ATOL, GRAD_RTOL), key).toBeLessThanOrEqual(
              1,
            );
        }
        // The predictions: every row with 'all'; the counted rows, compacted, otherwise.
        const want = ref.forward.pred;
        expect(ratio(all.pred, want, LOSS_ATOL, LOSS_RTOL)).toBeLessThanOrEqual(1);
        const gotRows: number[] = [];
        const wantRows: number[] = [];
        for (let m = 0; m < lists.count; m++)
          for (let j = 0; j < P; j++) {
            gotRows.push(counted.pred[m * P + j]);
            wantRows.push(want[lists.rows[m] * P + j]);
          }
        expect(ratio(gotRows, wantRows, LOSS_ATOL, LOSS_RTOL)).toBeLessThanOrEqual(1);
        console.log(
          `${name}: ${lists.count} of ${batch * K} rows; loss ${counted.loss} vs ${all.loss} ` +
            `(every row); workgroups ${counted.work} vs ${all.work}`,
        );
      } finally {
        model.destroy();
      }
    });
  });
});
