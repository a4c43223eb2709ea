import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import { matmul, matmulShape, MATMUL_TILES } from '../src/kernels/matmul';
import { gammaF32, matmulAbsReference, matmulReference } from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';
import { checkMatmul, size, type MatmulCase } from './matmulCheck';

for (const tile of ['large', 'small'] as const) {
  const t = MATMUL_TILES[tile].tile;
  const tk = MATMUL_TILES[tile].specialize.TILE_K;
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
      // Tile multiples everywhere: the ALIGNED variant, without bounds checks.
      [`aligned ${2 * t}×${t}×${5 * tk}`, [2 * t, 5 * tk], [5 * tk, t]],
      [`aligned batched 2×${t}×${2 * t}×${3 * tk}`, [2, t, 3 * tk], [2, 3 * tk, 2 * t]],
    ];
    for (const [name, aShape, bShape] of shapes) {
      it(name, async () => {
        const { ratio } = await checkMatmul(aShape, bShape, size(aShape) + 17, { tile });
        expect(ratio).toBeLessThanOrEqual(1);
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
      [
        `aligned Aᵀ·B + accumulate ${t}×${t}×${4 * tk}`,
        [4 * tk, t],
        [4 * tk, t],
        { transA: true, accumulate: true },
      ],
      [
        `aligned A·Bᵀ + bias + GELU ${t}×${2 * t}×${2 * tk}`,
        [t, 2 * tk],
        [2 * t, 2 * tk],
        { transB: true, bias: true, activation: 'gelu' },
      ],
      [
        `aligned GELU gradient + residual ${t}×${t}×${tk}`,
        [t, tk],
        [tk, t],
        { activation: 'gelu-grad', residual: true },
      ],
    ];
    cases.forEach(([name, aShape, bShape, opts], i) => {
      it(name, async () => {
        const { ratio } = await checkMatmul(aShape, bShape, 5 + i, { ...opts, tile });
        expect(ratio).toBeLessThanOrEqual(1);
      });
    });
  });
}

describe('matmul.wgsl: one shared-memory stage (16 KiB of workgroup memory) and two give the same bits', () => {
  // Both walk K in the same order per output element, so double buffering changes only when a
  // K-tile is stored, never the sum; each is also held to the float64 reference.
  const cases: Array<[string, number[], number[], MatmulCase]> = [
    ['17×33×65', [17, 65], [65, 33], {}],
    ['large K, Aᵀ·B 9×11×4099', [4099, 9], [4099, 11], { transA: true }],
    [
      'batched A·Bᵀ + bias + GELU 3×19×23×29',
      [3, 19, 29],
      [23, 29],
      { transB: true, bias: true, activation: 'gelu' },
    ],
  ];
  for (const tile of ['large', 'small'] as const) {
    const t = MATMUL_TILES[tile].tile;
    const tk = MATMUL_TILES[tile].specialize.TILE_K;
    const all: typeof cases = [
      ...cases,
      [`aligned ${2 * t}×${t}×${5 * tk}`, [2 * t, 5 * tk], [5 * tk, t], {}],
    ];
    all.forEach(([name, aShape, bShape, opts], i) => {
      it(`${tile}: ${name}`, async () => {
        const one = await checkMatmul(aShape, bShape, 40 + i, { ...opts, tile, stages: 1 });
        const two = await checkMatmul(aShape, bShape, 40 + i, { ...opts, tile, stages: 2 });
        expect(one.ratio).toBeLessThanOrEqual(1);
        expect(two.ratio).toBeLessThanOrEqual(1);
        expect(new Uint32Array(one.got.buffer)).toEqual(new Uint32Array(two.got.buffer));
      });
    });
  }
});

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
