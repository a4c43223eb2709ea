import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import { patchGeometry, patchify } from '../src/kernels/patchify';
import { patchifyReference, rasterOrder, type ImageShape } from '../src/reference/patchify';
import { mulberry32, randomF32 } from '../src/reference/random';
import { testGpu } from './gpuContext';

/** A seeded random permutation of 0…n−1 (Fisher–Yates). */
function permutation(n: number, seed: number): Uint32Array {
  const next = mulberry32(seed);
  const p = rasterOrder(n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

describe('patchify reference: the layouts mean what they claim', () => {
  it("'embedding' rows times the weight reshaped [D, C·p·p] equal Conv2d(kernel = stride = p)", () => {
    const s: ImageShape = { batch: 2, channels: 3, height: 6, width: 9 };
    const p = 3;
    const dim = 4;
    const images = randomF32(2 * 3 * 6 * 9, 1);
    const weight = randomF32(dim * 3 * p * p, 2); // Conv2d weight [D, C, p, p]
    const patches = patchifyReference(images, s, p, 'embedding');
    const gridH = 2;
    const gridW = 3;
    const perPatch = 3 * p * p;
    let worst = 0;
    for (let b = 0; b < 2; b++) {
      for (let oy = 0; oy < gridH; oy++) {
        for (let ox = 0; ox < gridW; ox++) {
          for (let o = 0; o < dim; o++) {
            // The convolution, written from its definition.
            let conv = 0;
            for (let c = 0; c < 3; c++)
              for (let ky = 0; ky < p; ky++)
                for (let kx = 0; kx < p; kx++)
                  conv +=
                    weight[((o * 3 + c) * p + ky) * p + kx] *
                    images[((b * 3 + c) * 6 + oy * p + ky) * 9 + ox * p + kx];
            // The same through patch rows (token = oy·gridW + ox, raster order).
            const token = oy * gridW + ox;
            let product = 0;
            for (let j = 0; j < perPatch; j++)
              product +=
                patches[(b * gridH * gridW + token) * perPatch + j] * weight[o * perPatch + j];
            worst = Math.max(worst, Math.abs(conv - product));
          }
        }
      }
    }
    expect(worst).toBeLessThan(1e-12);
  });

  it("'target' is einops 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'", () => {
    const s: ImageShape = { batch: 2, channels: 3, height: 4, width: 6 };
    const p = 2;
    const images = randomF32(2 * 3 * 4 * 6, 3);
    const got = patchifyReference(images, s, p, 'target');
    const [gh, gw] = [2, 3];
    for (let b = 0; b < 2; b++)
      for (let h = 0; h < gh; h++)
        for (let w = 0; w < gw; w++)
          for (let p1 = 0; p1 < p; p1++)
            for (let p2 = 0; p2 < p; p2++)
              for (let c = 0; c < 3; c++) {
                const out = ((b * gh * gw + h * gw + w) * p * p + p1 * p + p2) * 3 + c;
                const src = ((b * 3 + c) * 4 + h * p + p1) * 6 + w * p + p2;
                expect(got[out]).toBe(images[src]);
              }
  });

  it('an order picks whole patches: token t of the ordered output is raster patch order[t]', () => {
    const s: ImageShape = { batch: 1, channels: 2, height: 4, width: 4 };
    const images = randomF32(32, 4);
    const raster = patchifyReference(images, s, 2, 'embedding');
    const order = [3, 0, 2];
    const ordered = patchifyReference(images, s, 2, 'embedding', order);
    for (let t = 0; t < 3; t++)
      expect([...ordered.subarray(t * 8, t * 8 + 8)]).toEqual([
        ...raster.subarray(order[t] * 8, order[t] * 8 + 8),
      ]);
  });
});

describe('patchify.wgsl: exact copy of the reference', () => {
  const cases: Array<[string, number[], number, 'order' | 'subset' | 'none']> = [
    ['B=1, 3×4×4, p=4 (one patch)', [1, 3, 4, 4], 4, 'none'],
    ['B=3, 3×12×20, p=4 (3×5 grid), random order', [3, 3, 12, 20], 4, 'order'],
    ['B=1, 3×3×3, p=1 (pixels as patches), random order', [1, 3, 3, 3], 1, 'order'],
    ['B=2, 3×14×21, p=7, raster', [2, 3, 14, 21], 7, 'none'],
    ['B=5, 1×6×6, p=3, a subset of 3 of the 4 patches', [5, 1, 6, 6], 3, 'subset'],
  ];
  for (const [name, shape, p, mode] of cases) {
    for (const layout of ['embedding', 'target'] as const) {
      it(`${name}, ${layout}`, async () => {
        const ctx = await testGpu();
        const [batch, channels, height, width] = shape;
        const positions = (height / p) * (width / p);
        const orderData =
          mode === 'order'
            ? permutation(positions, positions)
            : mode === 'subset'
              ? Uint32Array.from([3, 1, 2])
              : undefined;
        const data = randomF32(batch * channels * height * width, batch * 100 + p);
        const images = Tensor.fromArray(ctx, shape, 'f32', data, 'images');
        const order =
          orderData && Tensor.fromArray(ctx, [orderData.length], 'u32', orderData, 'order');
        const out = await patchify(ctx, { images, order }, { patch: p, layout });
        expect(out.shape).toEqual([batch, orderData?.length ?? positions, channels * p * p]);
        const want = patchifyReference(
          data,
          { batch, channels, height, width },
          p,
          layout,
          orderData,
        );
        // Pure data movement: bit-for-bit equality.
        expect(await out.download()).toEqual(want);
        for (const t of [images, out, order]) t?.destroy();
      });
    }
  }

  it('an order entry past the grid makes that token NaN and leaves the others intact', async () => {
    const ctx = await testGpu();
    const data = randomF32(3 * 4 * 4, 7);
    const images = Tensor.fromArray(ctx, [1, 3, 4, 4], 'f32', data, 'images');
    const order = Tensor.fromArray(ctx, [3], 'u32', [2, 4, 0], 'order'); // K = 4
    const got = await (
      await patchify(ctx, { images, order }, { patch: 2, layout: 'target' })
    ).download();
    expect([...got.subarray(12, 24)].every(Number.isNaN)).toBe(true);
    const want = patchifyReference(
      data,
      { batch: 1, channels: 3, height: 4, width: 4 },
      2,
      'target',
      [2, 0, 0],
    );
    expect([...got.subarray(0, 12)]).toEqual([...want.subarray(0, 12)]);
    expect([...got.subarray(24)]).toEqual([...want.subarray(24)]);
  });

  it('rejects images that do not divide into patches, and wrong output sizes', async () => {
    expect(() => patchGeometry([1, 3, 10, 8], 4)).toThrow(/10×8 is not divisible into 4×4/);
    expect(() => patchGeometry([3, 8, 8], 4)).toThrow(/\[B, C, H, W\]/);
    expect(() => patchGeometry([1, 3, 8, 8], 0)).toThrow(/patch size 0/);
    expect(patchGeometry([2, 3, 8, 12], 4)).toMatchObject({
      gridH: 2,
      gridW: 3,
      positions: 6,
      perPatch: 48,
    });
  });
});
