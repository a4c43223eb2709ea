/**
 * partials_reduce.wgsl (src/kernels/partialsReduce.ts): many partial-sum reductions in one
 * dispatch, against the float64 reference (within the γ_count bound of a sequential sum) and
 * bit for bit against the same f32 sum in the kernel's order, on awkward lengths (1, not
 * multiples of the 256-output block), strides larger than the length, views at offsets into
 * shared buffers, accumulation; and deferReductions: a backward's split-K and LayerNorm
 * second passes merged into one pass at the end give the same bits as run in place.
 */
import { describe, expect, it } from 'vitest';
import { adapterProfile } from '../src/gpu/adapterProfiles';
import { GpuContext } from '../src/gpu/context';
import { runOnce } from '../src/gpu/dispatch';
import { fileShaderSource } from '../src/gpu/shaderSource.node';
import { Tensor } from '../src/gpu/tensor';
import { prepareLayerNormBackward } from '../src/kernels/layernorm';
import { prepareMatmul } from '../src/kernels/matmul';
import {
  deferReductions,
  partialsReduce,
  preparePartialsReduce,
  type PartialsReduction,
} from '../src/kernels/partialsReduce';
import { gammaF32 } from '../src/reference/matmul';
import {
  partialsReduceF32,
  partialsReduceReference,
  type PartialsReduceCase,
} from '../src/reference/partialsReduce';
import { randomF32 } from '../src/reference/random';
import { testGpu } from './gpuContext';

/** [count, stride, length, accumulate] of each reduction. */
const CASES: [number, number, number, boolean][] = [
  [1, 1, 1, false],
  [3, 300, 257, true],
  [17, 255, 255, false],
  [2, 1000, 600, true],
  [40, 7, 1, true],
];

describe('partials_reduce against the float64 reference', () => {
  it('five reductions of awkward lengths, views into one partials and one output buffer', async () => {
    const ctx = await testGpu();
    // Each reduction's partials and outputs at a 256-byte-aligned offset of a shared buffer.
    const align = (values: number) => Math.ceil(values / 64) * 64;
    const partialsSizes = CASES.map(([count, stride, length]) => (count - 1) * stride + length);
    const outSizes = CASES.map(([, , length]) => length);
    const partialsBuffer = Tensor.empty(
      ctx,
      [partialsSizes.map(align).reduce((a, b) => a + b)],
      'f32',
    );
    const outBuffer = Tensor.empty(ctx, [outSizes.map(align).reduce((a, b) => a + b)], 'f32');
    try {
      const reductions: PartialsReduction[] = [];
      const cases: PartialsReduceCase[] = [];
      let p = 0;
      let o = 0;
      CASES.forEach(([count, stride, length, accumulate], i) => {
        const partials = partialsBuffer.slice(4 * p, [partialsSizes[i]]);
        const out = outBuffer.slice(4 * o, [length]);
        const c: PartialsReduceCase = {
          partials: randomF32(partialsSizes[i], 10 + i, -3, 3),
          out: randomF32(length, 20 + i, -3, 3),
          count,
          stride,
          length,
          accumulate,
        };
        partials.upload(Float32Array.from(c.partials));
        out.upload(Float32Array.from(c.out));
        reductions.push({ partials, out, count, stride, length, accumulate });
        cases.push(c);
        p += align(partialsSizes[i]);
        o += align(length);
      });
      const dispatches = await preparePartialsReduce(ctx, reductions);
      expect(dispatches.length).toBe(1);
      await runOnce(ctx, dispatches);
      for (let i = 0; i < CASES.length; i++) {
        const got = await reductions[i].out.download();
        expect(got).toEqual(partialsReduceF32(cases[i]));
        const want = partialsReduceReference(cases[i]);
        const count = cases[i].count + (cases[i].accumulate ? 1 : 0);
        for (let j = 0; j < got.length; j++) {
          let magnitude = cases[i].accumulate ? Math.abs(cases[i].out[j]) : 0;
          for (let s = 0; s < cases[i].count; s++)
            magnitude += Math.abs(cases[i].partials[s * cases[i].stride + j]);
          expect(Math.abs(got[j] - want[j])).toBeLessThanOrEqual(gammaF32(count) * magnitude);
        }
      }
    } finally {
      partialsBuffer.destroy();
      outBuffer.destroy();
    }
  });

  it('outputs in two buffers: one dispatch per (partials, output) buffer pair, one table', async () => {
    const ctx = await testGpu();
    const partials = Tensor.fromArray(ctx, [6], 'f32', [1, 2, 3, 4, 5, 6]);
    const a = Tensor.fromArray(ctx, [1], 'f32', [100]);
    const b = Tensor.empty(ctx, [2], 'f32');
    try {
      const reductions: PartialsReduction[] = [
        { partials, out: a, count: 3, stride: 2, length: 1, accumulate: true },
        {
          partials: partials.slice(0, [6]),
          out: b,
          count: 2,
          stride: 3,
          length: 2,
          accumulate: false,
        },
      ];
      const dispatches = await preparePartialsReduce(ctx, reductions, { tableEntries: 9 });
      expect(dispatches.length).toBe(2);
      expect(dispatches[0].owned.length).toBe(2); // its uniform and the shared table
      await runOnce(ctx, dispatches);
      expect(Array.from(await a.download())).toEqual([100 + 1 + 3 + 5]);
      expect(Array.from(await b.download())).toEqual([1 + 4, 2 + 5]);
    } finally {
      for (const t of [partials, a, b]) t.destroy();
    }
  });

  it('refuses partials too short for count × stride, empty lists and aliasing', async () => {
    const ctx = await testGpu();
    const partials = Tensor.empty(ctx, [10], 'f32');
    const out = Tensor.empty(ctx, [4], 'f32');
    try {
      const base = { partials, out, accumulate: false };
      await expect(
        partialsReduce(ctx, [{ ...base, count: 3, stride: 4, length: 4 }]),
      ).rejects.toThrow(/need 12 values/);
      await expect(partialsReduce(ctx, [])).rejects.toThrow(/no reductions/);
      await expect(
        partialsReduce(ctx, [{ ...base, out: partials, count: 1, stride: 0, length: 2 }]),
      ).rejects.toThrow(/share a buffer/);
      await expect(
        partialsReduce(ctx, [{ ...base, count: 0, stride: 1, length: 2 }]),
      ).rejects.toThrow(/count 0/);
    } finally {
      partials.destroy();
      out.destroy();
    }
  });
});

describe('deferReductions', () => {
  it('split-K weight gradients and LayerNorm parameter gradients merged at the end: same bits', async () => {
    // Choices as on an H100, so the weight gradient is split (SwiftShader would not split).
    const ctx = await GpuContext.create({
      shaderSource: fileShaderSource(),
      choicesAs: adapterProfile('h100'),
    });
    const rows = 777; // three K-ranges of 256+ rows, the last one short
    const [m, n, dim] = [19, 23, 29];
    const t = {
      dy: Tensor.fromArray(ctx, [rows, m], 'f32', randomF32(rows * m, 1, -1, 1)),
      x: Tensor.fromArray(ctx, [rows, n], 'f32', randomF32(rows * n, 2, -1, 1)),
      lnDy: Tensor.fromArray(ctx, [rows, dim], 'f32', randomF32(rows * dim, 3, -1, 1)),
      lnX: Tensor.fromArray(ctx, [rows, dim], 'f32', randomF32(rows * dim, 4, -2, 2)),
      weight: Tensor.fromArray(ctx, [dim], 'f32', randomF32(dim, 5, 0.5, 1.5)),
      mean: Tensor.fromArray(ctx, [rows], 'f32', randomF32(rows, 6, -0.1, 0.1)),
      rstd: Tensor.fromArray(ctx, [rows], 'f32', randomF32(rows, 7, 0.9, 1.1)),
      dx: Tensor.empty(ctx, [rows, dim], 'f32'),
      // Gradients in one buffer, partials in another, as a model's arenas.
      grads: Tensor.empty(ctx, [1024], 'f32'),
      partials: Tensor.empty(ctx, [3 * m * n + 2 * 64 * dim + 256], 'f32'),
    };
    const dw = t.grads.slice(0, [m, n]);
    const dweight = t.grads.slice(2048, [dim]);
    const dbias = t.grads.slice(3072, [dim]);
    const own = {
      matmul: t.partials.slice(0, [3 * m * n]),
      weight: t.partials.slice(256 * Math.ceil((4 * 3 * m * n) / 256), [4 * dim]),
      bias: t.partials.slice(256 * Math.ceil((4 * 3 * m * n) / 256) + 512, [4 * dim]),
    };
    const prepare = async (defer: boolean) => [
      ...(await prepareMatmul(
        ctx,
        { a: t.dy, b: t.x, c: dw, partials: own.matmul },
        { transA: true, splitK: true, deferReduce: defer, accumulate: true },
      )),
      ...(await prepareLayerNormBackward(
        ctx,
        {
          dy: t.lnDy,
          x: t.lnX,
          weight: t.weight,
          mean: t.mean,
          rstd: t.rstd,
          dx: t.dx,
          dweight,
          dbias,
          partials: defer ? { weight: own.weight, bias: own.bias } : undefined,
        },
        { accumulateParams: true },
      )),
    ];
    try {
      const start = randomF32(1024, 8, -1, 1);
      t.grads.upload(start);
      const inPlace = await prepare(false);
      expect(inPlace.map((d) => d.name).some((n) => n.startsWith('matmul_split_k_reduce'))).toBe(
        true,
      );
      await runOnce(ctx, inPlace);
      const want = await t.grads.download();

      t.grads.upload(start);
      const merged = await deferReductions(ctx, await prepare(true));
      const names = merged.map((d) => d.name);
      expect(names.filter((n) => n.startsWith('partials_reduce')).length).toBe(1);
      expect(names.at(-1)).toMatch(/^partials_reduce/);
      expect(names.some((n) => /split_k_reduce|param_reduce/.test(n))).toBe(false);
      await runOnce(ctx, merged);
      expect(await t.grads.download()).toEqual(want);

      // Two deferred products sharing one partials scratch are refused.
      const twice = [
        ...(await prepareMatmul(
          ctx,
          { a: t.dy, b: t.x, c: dw, partials: own.matmul },
          { transA: true, splitK: true, deferReduce: true },
        )),
        ...(await prepareMatmul(
          ctx,
          { a: t.dy, b: t.x, c: t.grads.slice(1024, [m, n]), partials: own.matmul },
          { transA: true, splitK: true, deferReduce: true },
        )),
      ];
      await expect(deferReductions(ctx, twice)).rejects.toThrow(/share partials/);
    } finally {
      for (const v of Object.values(t)) v.destroy();
      ctx.destroy();
    }
  });
});
