import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import {
  matmul,
  matmulOutputShape,
  matmulShape,
  MATMUL_TILES,
  type MatmulOptions,
  type MatmulTensors,
  type MatmulTile,
} from '../src/kernels/matmul';
import {
  epilogueReference,
  gammaF32,
  matmulAbsReference,
  matmulReference,
} from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

const size = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);

/**
 * Runs op(A)·op(B) (+ epilogue) on the GPU and returns max error / tolerance (≤ 1 passes).
 * Tolerance: the product obeys |ĉ − c| ≤ γ_K·Σ|a||b| for any summation order (Higham §3.1).
 * GELU's slope is ≤ 1.13 in magnitude, so the product's error grows by at most 1.13 through
 * it; erfc's approximation (fractional error 1.2e-7) and the few f32 roundings of the
 * epilogue add ≤ 4 ulp-scale relative error, covered by 6e-7·(|c| + |terms|).
 */
/** Which epilogue inputs a case uses; the test makes seeded data for each. */
interface MatmulCase {
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  activation?: MatmulOptions['activation'];
  residual?: boolean;
  accumulate?: boolean;
  tile?: MatmulTile;
}

async function checkMatmul(
  aShape: number[],
  bShape: number[],
  seed: number,
  opts: MatmulCase = {},
) {
  const ctx = await testGpu();
  const s = matmulShape(aShape, bShape, opts);
  const outShape = matmulOutputShape(s, aShape.length === 3);
  const aData = randomF32(size(aShape), seed);
  const bData = randomF32(size(bShape), seed + 1);
  const a = Tensor.fromArray(ctx, aShape, 'f32', aData, 'A');
  const b = Tensor.fromArray(ctx, bShape, 'f32', bData, 'B');
  const extras: Tensor<'f32'>[] = [];
  const make = (shape: number[], data: Float32Array, label: string) => {
    const t = Tensor.fromArray(ctx, shape, 'f32', data, label);
    extras.push(t);
    return t;
  };
  const biasData = randomF32(s.n, seed + 2);
  const residualData = randomF32(size(outShape), seed + 3);
  const previousData = randomF32(size(outShape), seed + 4);
  const auxData = randomF32(size(outShape), seed + 5, -3, 3);
  const tensors: Omit<MatmulTensors, 'c'> & { c?: Tensor<'f32'> } = { a, b };
  const gpuOpts: MatmulOptions = {
    transA: opts.transA,
    transB: opts.transB,
    activation: opts.activation,
    accumulate: opts.accumulate,
    tile: opts.tile,
  };
  if (opts.bias) tensors.bias = make([s.n], biasData, 'bias');
  if (opts.residual) tensors.residual = make(outShape, residualData, 'residual');
  if (opts.accumulate) tensors.c = make(outShape, previousData, 'C (previous)');
  if (opts.activation && opts.activation !== 'none') {
    tensors.aux = make(
      outShape,
      opts.activation === 'gelu-grad' ? auxData : new Float32Array(size(outShape)),
      'aux',
    );
  }
  const c = await matmul(ctx, tensors, gpuOpts);
  const got = await c.download();
  const product = matmulReference(aData, bData, s);
  const absDot = matmulAbsReference(aData, bData, s);
  const { c: want, preActivation } = epilogueReference(product, s.n, {
    bias: opts.bias ? biasData : undefined,
    activation: opts.activation,
    aux: auxData,
    residual: opts.residual ? residualData : undefined,
    previous: opts.accumulate ? previousData : undefined,
  });
  const gamma = gammaF32(s.k);
  const hasEpilogue = Boolean(
    opts.bias || opts.residual || opts.accumulate || (opts.activation ?? 'none') !== 'none',
  );
  const tol = (i: number) =>
    1.13 * gamma * absDot[i] +
    (hasEpilogue ? 6e-7 * (Math.abs(want[i]) + Math.abs(product[i]) + 1) : 0) +
    1e-30;
  const ratio = worstRatio(got, want, tol);
  let auxRatio = 0;
  if (preActivation) {
    const gotPre = await tensors.aux!.download();
    auxRatio = worstRatio(
      gotPre,
      preActivation,
      (i) => gamma * absDot[i] + 2e-7 * (Math.abs(preActivation[i]) + 1),
    );
  }
  for (const t of [a, b, c, ...extras]) if (t !== c || !opts.accumulate) t.destroy();
  return Math.max(ratio, auxRatio);
}

for (const tile of ['large', 'small'] as const) {
  const t = MATMUL_TILES[tile].tile;
  describe(`matmul.wgsl (${tile} tiles, ${t}×${t}): shapes against the float64 reference`, () => {
    const shapes: Array<[string, number[], number[]]> = [
      ['1×1×1', [1, 1], [1, 1]],
      ['17×33×65 (no dimension a tile multiple)', [17, 65], [65, 33]],
      [`${t}×${t}×${t} (exactly one tile)`, [t, t], [t, t]],
      [`${t + 1}×${t - 1}×9 (one past / one short of a tile)`, [t + 1, 9], [9, t - 1]],
      ['1×130×3 (single row)', [1, 3], [3, 130]],
      ['131×1×7 (single column)', [131, 7], [7, 1]],
      ['large K: 9×11×4099', [9, 4099], [4099, 11]],
      ['batched 3×19×23×29', [3, 19, 29], [3, 29, 23]],
      ['batched with shared B 5×7×33×9', [5, 7, 9], [9, 33]],
    ];
    for (const [name, aShape, bShape] of shapes) {
      it(name, async () => {
        expect(await checkMatmul(aShape, bShape, size(aShape) + 17, { tile })).toBeLessThanOrEqual(
          1,
        );
      });
    }
  });

  describe(`matmul.wgsl (${tile} tiles): layouts and fused epilogues`, () => {
    const cases: Array<[string, number[], number[], MatmulCase]> = [
      ['A·Bᵀ (Linear: x · Wᵀ) 37×45×19', [37, 19], [45, 19], { transB: true }],
      ['Aᵀ·B (weight gradient: xᵀ · dy) 21×13×150', [150, 21], [150, 13], { transA: true }],
      ['Aᵀ·Bᵀ 9×10×11', [11, 9], [10, 11], { transA: true, transB: true }],
      ['batched A·Bᵀ 3×17×5×8', [3, 17, 8], [3, 5, 8], { transB: true }],
      [
        'bias + GELU, pre-activation kept in aux (fc1) 33×70×24',
        [33, 24],
        [70, 24],
        { transB: true, bias: true, activation: 'gelu' },
      ],
      [
        'GELU gradient epilogue (backward through fc1) 33×70×24',
        [33, 24],
        [24, 70],
        { activation: 'gelu-grad' },
      ],
      ['residual add (x + proj(h)) 19×20×21', [19, 21], [20, 21], { transB: true, residual: true }],
      [
        'accumulate into the output (gradient accumulation) 20×19×140',
        [140, 20],
        [140, 19],
        { transA: true, accumulate: true },
      ],
      [
        'bias + residual + accumulate together 5×6×7',
        [5, 7],
        [7, 6],
        { bias: true, residual: true, accumulate: true },
      ],
    ];
    cases.forEach(([name, aShape, bShape, opts], i) => {
      it(name, async () => {
        expect(await checkMatmul(aShape, bShape, 5 + i, { ...opts, tile })).toBeLessThanOrEqual(1);
      });
    });
  });
}

describe('matmul wrapper: bad input', () => {
  it('rejects mismatched shapes with a clear message', () => {
    expect(() => matmulShape([2, 3], [4, 2])).toThrow(/inner dimensions differ/);
    expect(() => matmulShape([2, 3, 4], [3, 4, 5])).toThrow(/batch of B/);
    expect(() => matmulShape([3, 2], [4, 2], { transA: true, transB: true })).toThrow(/Aᵀ/);
  });
  it('refuses to read and write the same buffer', async () => {
    const ctx = await testGpu();
    const a = Tensor.empty(ctx, [4, 4], 'f32', 'A');
    await expect(matmul(ctx, { a, b: a, c: a })).rejects.toThrow(
      /matmul: c must not be the same buffer as a/,
    );
    a.destroy();
  });
  it('the bound check itself fails on a wrong result', () => {
    const s = matmulShape([2, 3], [3, 2]);
    const a = randomF32(6, 1);
    const b = randomF32(6, 2);
    const want = matmulReference(a, b, s);
    const wrong = Float32Array.from(want);
    wrong[3] += 1e-3;
    const absDot = matmulAbsReference(a, b, s);
    expect(worstRatio(wrong, want, (i) => gammaF32(3) * absDot[i])).toBeGreaterThan(1);
  });
});
