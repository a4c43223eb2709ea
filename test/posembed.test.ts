import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import { addPositionalEmbedding, positionalEmbeddingTable } from '../src/kernels/posembed';
import { F32_UNIT_ROUNDOFF as U } from '../src/reference/matmul';
import {
  addPositionalEmbeddingReference,
  sinCosPositionalEmbedding,
} from '../src/reference/posembed';
import { mulberry32, randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

describe('sin-cos table (float64 reference)', () => {
  it('spot values, D = 8 at (row 1, col 2): ω = (1, 1/100)', () => {
    const gridW = 3;
    const table = sinCosPositionalEmbedding(2, gridW, 8);
    const row = table.subarray((1 * gridW + 2) * 8, (1 * gridW + 2) * 8 + 8);
    const want = [
      Math.sin(2),
      Math.sin(0.02),
      Math.cos(2),
      Math.cos(0.02),
      Math.sin(1),
      Math.sin(0.01),
      Math.cos(1),
      Math.cos(0.01),
    ];
    for (let c = 0; c < 8; c++) expect(Math.abs(row[c] - want[c])).toBeLessThan(1e-15);
  });

  it("matches a restatement of ml-aim's numpy code (meshgrid of (w, h), 1-D embeddings, concat)", () => {
    // get_1d_sincos_pos_embed_from_grid(D', pos): omega = arange(D'/2)/(D'/2); omega = 1/10000^omega;
    // out = outer(pos, omega); emb = concat([sin(out), cos(out)], axis=1).
    const emb1d = (dim: number, pos: number[]) => {
      const half = dim / 2;
      return pos.map((p) => {
        const out = Array.from({ length: half }, (_, k) => p * (1 / 10000 ** (k / half)));
        return [...out.map(Math.sin), ...out.map(Math.cos)];
      });
    };
    const [gh, gw, dim] = [3, 5, 12];
    // np.meshgrid(grid_w, grid_h): grid[0][i][j] = j (column), grid[1][i][j] = i (row), flattened row-major.
    const cols: number[] = [];
    const rows: number[] = [];
    for (let i = 0; i < gh; i++)
      for (let j = 0; j < gw; j++) {
        cols.push(j);
        rows.push(i);
      }
    const embH = emb1d(dim / 2, cols); // ml-aim calls the grid[0] half "emb_h"; it holds columns
    const embW = emb1d(dim / 2, rows);
    const want = embH.flatMap((h, k) => [...h, ...embW[k]]);
    const got = sinCosPositionalEmbedding(gh, gw, dim);
    expect(got.length).toBe(want.length);
    for (let k = 0; k < want.length; k++) expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-15);
  });

  it('first half depends only on the column, second half only on the row (3×5 grid)', () => {
    const [gh, gw, dim] = [3, 5, 16];
    const t = sinCosPositionalEmbedding(gh, gw, dim);
    const at = (r: number, c: number) => t.subarray((r * gw + c) * dim, (r * gw + c + 1) * dim);
    expect([...at(0, 3).subarray(0, 8)]).toEqual([...at(2, 3).subarray(0, 8)]);
    expect([...at(1, 0).subarray(8)]).toEqual([...at(1, 4).subarray(8)]);
    expect([...at(0, 0)]).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('rejects a width not divisible by 4', () => {
    expect(() => sinCosPositionalEmbedding(2, 2, 6)).toThrow(/divisible by 4/);
  });
});

describe('posembed.wgsl: tokens + table[order[t]]', () => {
  /** Seeded random permutation. */
  const permutation = (n: number, seed: number) => {
    const next = mulberry32(seed);
    const p = Uint32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  };

  // One f32 addition of f32 values (the table is rounded to f32 once): |err| ≤ u·|sum|.
  // A token given another position's row is off by O(1) in the sin/cos channels.
  const cases: Array<[string, number, number, number, number, 'order' | 'none', boolean]> = [
    ['B=3, 3×5 grid, D=12, random order, in place', 3, 3, 5, 12, 'order', true],
    ['B=3, 3×5 grid, D=12, random order, into out', 3, 3, 5, 12, 'order', false],
    ['B=1, 1×1 grid, D=4, raster', 1, 1, 1, 4, 'none', true],
    ['B=2, 7×9 grid, D=68, raster, into out', 2, 7, 9, 68, 'none', false],
  ];
  for (const [name, batch, gh, gw, dim, mode, inPlace] of cases) {
    it(name, async () => {
      const ctx = await testGpu();
      const count = gh * gw;
      const orderData = mode === 'order' ? permutation(count, count) : undefined;
      const tokenData = randomF32(batch * count * dim, dim);
      const tokens = Tensor.fromArray(ctx, [batch, count, dim], 'f32', tokenData, 'tokens');
      const table = positionalEmbeddingTable(ctx, gh, gw, dim);
      const order = orderData && Tensor.fromArray(ctx, [count], 'u32', orderData, 'order');
      const out = inPlace ? undefined : Tensor.empty(ctx, [batch, count, dim], 'f32', 'out');
      const result = await addPositionalEmbedding(ctx, { tokens, table, order, out });
      const table32 = Float32Array.from(sinCosPositionalEmbedding(gh, gw, dim));
      const want = addPositionalEmbeddingReference(
        tokenData,
        table32,
        batch,
        count,
        dim,
        orderData,
      );
      expect(
        worstRatio(await result.download(), want, (i) => U * Math.abs(want[i]) + Number.MIN_VALUE),
      ).toBeLessThanOrEqual(1);
      if (!inPlace) expect(await tokens.download()).toEqual(tokenData);
      for (const t of [tokens, table, order, out]) t?.destroy();
    });
  }

  it('a subset order (T < K) and an out-of-range entry (→ NaN for that token only)', async () => {
    const ctx = await testGpu();
    const [gh, gw, dim] = [2, 3, 8];
    const orderData = Uint32Array.from([5, 6, 0]); // 6 ≥ K = 6
    const tokenData = randomF32(2 * 3 * dim, 3);
    const tokens = Tensor.fromArray(ctx, [2, 3, dim], 'f32', tokenData, 'tokens');
    const table = positionalEmbeddingTable(ctx, gh, gw, dim);
    const order = Tensor.fromArray(ctx, [3], 'u32', orderData, 'order');
    const got = await (await addPositionalEmbedding(ctx, { tokens, table, order })).download();
    const table32 = Float32Array.from(sinCosPositionalEmbedding(gh, gw, dim));
    const want = addPositionalEmbeddingReference(tokenData, table32, 2, 3, dim, [5, 0, 0]);
    for (let b = 0; b < 2; b++)
      for (let t = 0; t < 3; t++)
        for (let d = 0; d < dim; d++) {
          const i = (b * 3 + t) * dim + d;
          if (t === 1) expect(got[i]).toBeNaN();
          else expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(U * Math.abs(want[i]));
        }
    for (const t of [tokens, table, order]) t.destroy();
  });

  it('rejects mismatched widths and orders', async () => {
    const ctx = await testGpu();
    const tokens = Tensor.empty(ctx, [2, 6, 8], 'f32', 'tokens');
    const table = positionalEmbeddingTable(ctx, 2, 3, 12);
    await expect(addPositionalEmbedding(ctx, { tokens, table })).rejects.toThrow(
      /expected \[K, 8\]/,
    );
    const small = positionalEmbeddingTable(ctx, 1, 4, 8);
    await expect(addPositionalEmbedding(ctx, { tokens, table: small })).rejects.toThrow(
      /only 4 positions/,
    );
    const order = Tensor.fromArray(ctx, [5], 'u32', [0, 1, 2, 3, 4], 'order');
    await expect(addPositionalEmbedding(ctx, { tokens, table: small, order })).rejects.toThrow(
      /order has 5 entries for 6 tokens/,
    );
    for (const t of [tokens, table, small, order]) t.destroy();
  });
});
