import { describe, expect, it } from 'vitest';
import { PRESETS } from '../src/model/config';
import { initParameters, paramSpecs } from '../src/model/params';

/**
 * The released AIM v1 config builds q, k and v as three Linear layers, each xavier_uniform
 * over its own [D, D] weight (ml-aim.md, "Attention initialisation"): bound √(6 / 2D). One
 * xavier over the fused [3D, D] matrix would have bound √(6 / 4D) — √2 smaller.
 */
describe('attention initialisation (released AIM v1: q, k, v each xavier over [D, D])', () => {
  for (const preset of ['aim-micro', 'aim-tiny'] as const) {
    it(`${preset}: each of the q, k, v row blocks reaches beyond the fused bound, within its own`, () => {
      const c = PRESETS[preset];
      const D = c.width;
      const perLayerBound = Math.sqrt(6 / (2 * D));
      const fusedBound = Math.sqrt(6 / (4 * D));
      const values = initParameters(c, 11);
      for (let l = 0; l < c.depth; l++) {
        const name = `trunk.blocks.${l}.attn.qkv.weight`;
        const w = values.get(name)!;
        expect(w.length, name).toBe(3 * D * D);
        for (const [slice, label] of ['q', 'k', 'v'].entries()) {
          // Rows slice·D … (slice + 1)·D − 1 of the [3D, D] weight are that layer's [D, D].
          const rows = w.subarray(slice * D * D, (slice + 1) * D * D);
          let maxAbs = 0;
          let sumSq = 0;
          for (const x of rows) {
            maxAbs = Math.max(maxAbs, Math.abs(x));
            sumSq += x * x;
          }
          expect(maxAbs, `${name} ${label}`).toBeLessThanOrEqual(perLayerBound);
          expect(maxAbs, `${name} ${label}`).toBeGreaterThan(fusedBound);
          // U(−a, a) has variance a²/3 = 1/D; D² samples put the estimate within a few %.
          expect((sumSq / rows.length) * D, `${name} ${label}`).toBeGreaterThan(0.9);
          expect((sumSq / rows.length) * D, `${name} ${label}`).toBeLessThan(1.1);
        }
      }
    });
  }

  it('the table says so: the fused qkv is three stacked [D, D] layers, fan_in = fan_out = D', () => {
    const c = PRESETS['aim-micro'];
    const qkv = paramSpecs(c).find((s) => s.name === 'trunk.blocks.0.attn.qkv.weight')!;
    expect(qkv.shape).toEqual([3 * c.width, c.width]);
    expect(qkv.stacked).toBe(3);
    expect([qkv.fanIn, qkv.fanOut]).toEqual([c.width, c.width]);
    // Every other Linear keeps its own [out, in] fans.
    const proj = paramSpecs(c).find((s) => s.name === 'trunk.blocks.0.attn.proj.weight')!;
    expect([proj.fanIn, proj.fanOut, proj.stacked]).toEqual([c.width, c.width, undefined]);
    const fc1 = paramSpecs(c).find((s) => s.name === 'trunk.blocks.0.mlp.fc1.weight')!;
    expect([fc1.fanIn, fc1.fanOut]).toEqual([c.width, fc1.shape[0]]);
  });
});
