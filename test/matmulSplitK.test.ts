/**
 * Split-K (src/kernels/matmulSplitK.ts): the split product against the same float64
 * reference as the one-pass kernel, for split counts from 1 to many with K not divisible,
 * every layout and epilogue; bit-for-bit repeatability; and the choice function on the named
 * adapter profiles (every weight gradient of aim-tiny and aim-small fills an H100).
 */
import { describe, expect, it } from 'vitest';
import { ADAPTER_PROFILE_NAMES, adapterProfile } from '../src/gpu/adapterProfiles';
import { Tensor } from '../src/gpu/tensor';
import {
  MATMUL_TILES,
  matmul,
  matmulPlan,
  matmulScratchShape,
  matmulShape,
  matmulSplitKCapacity,
  prepareMatmul,
} from '../src/kernels/matmul';
import {
  chooseSplitK,
  splitKFor,
  SPLIT_K_MIN_CHUNK,
  SPLIT_K_MIN_WORKGROUPS,
  weightGradientShape,
} from '../src/kernels/matmulPlan';
import { numPatches, PRESETS } from '../src/model/config';
import { paramSpecs } from '../src/model/params';
import { randomF32 } from '../src/reference/random';
import { testGpu } from './gpuContext';
import { checkMatmul, type MatmulCase } from './matmulCheck';

describe('split-K against the float64 reference', () => {
  // K = 1001 is a multiple of neither tile's TILE_K (8, 16) nor of any split count below.
  const splitCounts = [1, 2, 3, 7, 40];
  for (const splitK of splitCounts) {
    it(`Aᵀ·B 19×23×1001 (a weight gradient) in at most ${splitK} K-ranges`, async () => {
      const { ratio } = await checkMatmul([1001, 19], [1001, 23], 70 + splitK, {
        transA: true,
        splitK,
      });
      expect(ratio).toBeLessThanOrEqual(1);
    });
  }

  const cases: Array<[string, number[], number[], MatmulCase]> = [
    ['1×1×1, asked for 4 ranges (one exists)', [1, 1], [1, 1], { splitK: 4 }],
    ['1×1×300 into 5', [1, 300], [300, 1], { splitK: 5 }],
    ['A·B 65×63×517 into 6 (tiles past M and N)', [65, 517], [517, 63], { splitK: 6 }],
    ['A·Bᵀ 17×9×250 into 3', [17, 250], [9, 250], { transB: true, splitK: 3 }],
    ['Aᵀ·Bᵀ 9×10×111 into 4', [111, 9], [10, 111], { transA: true, transB: true, splitK: 4 }],
    ['batched 3×19×23×129 into 5', [3, 19, 129], [3, 129, 23], { splitK: 5 }],
    ['batched with shared B 2×7×33×90 into 4', [2, 7, 90], [90, 33], { splitK: 4 }],
    [
      'aligned 64×128×512 into 8 (no bounds checks)',
      [512, 64],
      [512, 128],
      { transA: true, splitK: 8, tile: 'small' },
    ],
    ['large tiles 130×129×300 into 3', [130, 300], [300, 129], { splitK: 3, tile: 'large' }],
    [
      'bias + GELU with the pre-activation in aux, into 3',
      [33, 200],
      [70, 200],
      { transB: true, bias: true, activation: 'gelu', splitK: 3 },
    ],
    ['GELU gradient, into 4', [33, 130], [130, 70], { activation: 'gelu-grad', splitK: 4 }],
    ['residual, into 2', [19, 121], [20, 121], { transB: true, residual: true, splitK: 2 }],
    [
      'accumulate (micro-batch weight gradient), into 9',
      [700, 20],
      [700, 19],
      { transA: true, accumulate: true, splitK: 9 },
    ],
    [
      'bias + residual + accumulate together, into 3',
      [5, 77],
      [77, 6],
      { bias: true, residual: true, accumulate: true, splitK: 3 },
    ],
  ];
  cases.forEach(([name, aShape, bShape, opts], i) => {
    it(name, async () => {
      const { ratio } = await checkMatmul(aShape, bShape, 90 + i, opts);
      expect(ratio).toBeLessThanOrEqual(1);
    });
  });

  it('really splits: two dispatches, the partial grid has one z-slice per range', async () => {
    const ctx = await testGpu();
    const a = Tensor.fromArray(ctx, [1001, 19], 'f32', randomF32(1001 * 19, 1), 'A');
    const b = Tensor.fromArray(ctx, [1001, 23], 'f32', randomF32(1001 * 23, 2), 'B');
    const c = Tensor.empty(ctx, [19, 23], 'f32', 'C');
    const dispatches = await prepareMatmul(ctx, { a, b, c }, { transA: true, splitK: 7 });
    expect(dispatches.map((d) => d.name)).toEqual([
      expect.stringMatching(/^matmul.*SPLIT_K=1/),
      expect.stringMatching(/^matmul_split_k_reduce/),
    ]);
    expect(dispatches[0].workgroups[2]).toBe(splitKFor(1001, 7, 16).splits);
    for (const d of dispatches) for (const buffer of d.owned) buffer.destroy();
    for (const t of [a, b, c]) t.destroy();
  });
});

describe('split-K is deterministic', () => {
  it('two runs of a split product give the same bits', async () => {
    const ctx = await testGpu();
    const aData = randomF32(2003 * 37, 5);
    const bData = randomF32(2003 * 29, 6);
    const run = async () => {
      const a = Tensor.fromArray(ctx, [2003, 37], 'f32', aData, 'A');
      const b = Tensor.fromArray(ctx, [2003, 29], 'f32', bData, 'B');
      const c = await matmul(ctx, { a, b }, { transA: true, splitK: 11 });
      const out = await c.download();
      for (const t of [a, b, c]) t.destroy();
      return out;
    };
    const first = await run();
    const second = await run();
    expect(Buffer.from(second.buffer).equals(Buffer.from(first.buffer))).toBe(true);
    // Not vacuous: a different split count sums in a different order.
    const other = await checkMatmul([2003, 37], [2003, 29], 5, { transA: true, splitK: 3 });
    expect(other.got).not.toEqual(first);
  });
});

describe('chooseSplitK on the adapter profiles', () => {
  const h100 = adapterProfile('h100');
  const tileOf = (name: 'large' | 'small') => ({
    tile: MATMUL_TILES[name].tile,
    tileK: MATMUL_TILES[name].specialize.TILE_K,
  });

  for (const preset of ['aim-tiny', 'aim-small'] as const) {
    it(`every weight gradient of ${preset} at batch 256 launches ≥ ${SPLIT_K_MIN_WORKGROUPS} workgroups on the h100 profile`, () => {
      const c = PRESETS[preset];
      const rows = 256 * numPatches(c);
      const weights = paramSpecs(c).filter((p) => p.kind === 'linear' || p.kind === 'conv');
      expect(weights.length).toBeGreaterThan(10);
      for (const w of weights) {
        const [out, ...rest] = w.shape;
        const inputs = rest.reduce((x, y) => x * y, 1);
        // dW [out, in] = dYᵀ [out, rows] · X [rows, in]
        const s = matmulShape([rows, out], [rows, inputs], { transA: true });
        const { tile, split } = matmulPlan(h100, s, { splitK: true });
        const { tile: size } = MATMUL_TILES[tile];
        const workgroups = Math.ceil(s.m / size) * Math.ceil(s.n / size) * split.splits;
        expect(workgroups, `${w.name} ${s.m}×${s.n}×${s.k}`).toBeGreaterThanOrEqual(
          SPLIT_K_MIN_WORKGROUPS,
        );
        expect(split.kChunk).toBeGreaterThanOrEqual(SPLIT_K_MIN_CHUNK);
        expect((split.splits - 1) * split.kChunk).toBeLessThan(s.k);
      }
    });
  }

  it('never splits on a fallback adapter, nor a product whose tiles fill the GPU, nor a short K', () => {
    const weightGrad = matmulShape([16384, 192], [16384, 48], { transA: true });
    expect(chooseSplitK(adapterProfile('swiftshader'), weightGrad, tileOf('small')).splits).toBe(1);
    expect(matmulScratchShape(adapterProfile('swiftshader'), weightGrad, { splitK: true })).toBe(
      undefined,
    );
    const forward = matmulShape([16384, 192], [576, 192], { transB: true });
    expect(chooseSplitK(h100, forward, tileOf('small')).splits).toBe(1);
    const shortK = matmulShape([300, 192], [300, 48], { transA: true });
    expect(chooseSplitK(h100, shortK, tileOf('small')).splits).toBe(1);
  });

  it('splits the same way on the m2 and xe profiles, and the scratch shape follows the split', () => {
    const s = matmulShape([16384, 192], [16384, 48], { transA: true });
    for (const name of ['m2', 'xe'] as const) {
      const split = chooseSplitK(adapterProfile(name), s, tileOf('small'));
      expect(split.splits).toBeGreaterThan(1);
      expect(matmulScratchShape(adapterProfile(name), s, { splitK: true })).toEqual([
        split.splits,
        192,
        48,
      ]);
    }
  });

  it('the model-wide partials capacity holds every weight gradient on every profile, at every K up to B·T', () => {
    for (const preset of ['aim-micro', 'aim-tiny', 'aim-small'] as const) {
      const c = PRESETS[preset];
      const rows = 256 * numPatches(c);
      const weights = paramSpecs(c).filter((p) => p.kind === 'linear' || p.kind === 'conv');
      const capacity = matmulSplitKCapacity(weights.map((w) => weightGradientShape(w.shape, rows)));
      expect(capacity).toBeGreaterThan(0);
      for (const name of ADAPTER_PROFILE_NAMES) {
        for (const w of weights) {
          for (let k = 1; k <= rows; k += 97) {
            const shape = matmulScratchShape(
              adapterProfile(name),
              weightGradientShape(w.shape, k),
              { splitK: true },
            );
            const values = shape ? shape.reduce((x, y) => x * y, 1) : 0;
            expect(values, `${preset} ${name} ${w.name} K=${k}`).toBeLessThanOrEqual(capacity);
          }
        }
      }
    }
  });

  it('splitKFor: ranges are TILE_K multiples covering K exactly once', () => {
    for (const [k, n, tk] of [
      [1001, 7, 16],
      [16384, 86, 16],
      [5, 4, 8],
      [1, 3, 8],
    ]) {
      const { splits, kChunk } = splitKFor(k, n, tk);
      expect(kChunk % tk).toBe(0);
      expect(splits).toBeLessThanOrEqual(n);
      expect(splits * kChunk).toBeGreaterThanOrEqual(k);
      expect((splits - 1) * kChunk).toBeLessThan(k);
    }
    expect(() => splitKFor(10, 0, 8)).toThrow(/split count/);
  });
});
