import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import {
  layerNormBackward,
  layerNormForward,
  layerNormReductionDepth,
  prepareLayerNormBackward,
  prepareLayerNormForward,
  type LayerNormVariant,
} from '../src/kernels/layernorm';
import { runOnce } from '../src/gpu/dispatch';
import { KERNEL_CASES } from '../src/diagnostics/kernelCases';
import { checkGradient, weightedSum } from '../src/reference/gradcheck';
import {
  layerNormBackwardReference,
  layerNormForwardErrorBounds,
  layerNormReference,
  layerNormStatErrorBounds,
  layerNormXhatErrorBounds,
  type LayerNormRowErrors,
} from '../src/reference/layernorm';
import { gammaF32, F32_UNIT_ROUNDOFF as U } from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

/*
 * Forward bounds: layerNormForwardErrorBounds (src/reference/layernorm.ts) — from the
 * reduction depth d = ⌈D/T⌉ + log2(T) of the kernel's row sums, first order in u = 2⁻²⁴
 * with a factor 2 for second-order terms: δμ = γ_d·Σ|x|/D + u|μ|, rstd relative
 * (γ_d + 4u)/2 + 4u + (δμ·rstd)²/2, |δy_i| ≤ |w_i|·(δμ·rstd + |x̂_i|·(ε_r + 2u)) + u|y_i|.
 * An off-by-one index or a wrong statistic errs by O(|w|) ≫ these (≈1e-6·|w|).
 */
/*
 * Both variants are checked against the same references and bounds; the subgroup one (one
 * subgroup per row, subgroupAdd) needs `subgroups`, which Dawn's SwiftShader offers (size 4).
 */
const VARIANTS: readonly LayerNormVariant[] = ['workgroup', 'subgroup'];
let variant: LayerNormVariant = 'workgroup';
const depthOf = (dim: number) => layerNormReductionDepth(dim, variant);
type RowErrors = LayerNormRowErrors;

function forwardStatErrors(x: Float32Array, rows: number, dim: number, eps: number): RowErrors {
  return layerNormStatErrorBounds(x, rows, dim, eps, depthOf(dim));
}

const xhatErrors = layerNormXhatErrorBounds;

function inputs(rows: number, dim: number, seed: number, offset = 0) {
  const x = randomF32(rows * dim, seed, -2 + offset, 3 + offset);
  const weight = randomF32(dim, seed + 1, -1.5, 1.5);
  const bias = randomF32(dim, seed + 2);
  const dy = randomF32(rows * dim, seed + 3);
  return { x, weight, bias, dy };
}

/** Runs the GPU forward; returns the worst error/bound ratio over y, mean and rstd. */
async function checkForward(
  rows: number,
  dim: number,
  seed: number,
  { eps = 1e-6, offset = 0 } = {},
): Promise<number> {
  const ctx = await testGpu();
  const data = inputs(rows, dim, seed, offset);
  const x = Tensor.fromArray(ctx, [rows, dim], 'f32', data.x, 'x');
  const w = Tensor.fromArray(ctx, [dim], 'f32', data.weight, 'weight');
  const b = Tensor.fromArray(ctx, [dim], 'f32', data.bias, 'bias');
  const out = await layerNormForward(ctx, { x, weight: w, bias: b }, { eps, variant });
  const want = layerNormReference(data.x, data.weight, data.bias, rows, dim, eps);
  const tol = layerNormForwardErrorBounds(
    data.x,
    data.weight,
    data.bias,
    rows,
    dim,
    eps,
    depthOf(dim),
  );
  const ratios = [
    worstRatio(await out.y.download(), want.y, (k) => tol.y[k]),
    worstRatio(await out.mean.download(), want.mean, (r) => tol.mean[r]),
    worstRatio(await out.rstd.download(), want.rstd, (r) => tol.rstd[r]),
  ];
  for (const t of [x, w, b, out.y, out.mean, out.rstd]) t.destroy();
  return Math.max(...ratios);
}

for (const v of VARIANTS)
  describe(`layernorm_forward (${v} variant) against the float64 reference`, () => {
    beforeAll(async () => {
      variant = v;
      if (v === 'subgroup') expect((await testGpu()).capabilities.subgroups).toBe(true);
    });
    for (const dim of [1, 3, 33, 64, 192, 200, 257]) {
      for (const rows of [1, 5, 130]) {
        it(`R = ${rows}, D = ${dim}`, async () => {
          expect(await checkForward(rows, dim, rows * 1000 + dim)).toBeLessThanOrEqual(1);
        });
      }
    }
    it('wide rows: R = 3, D = 4096 (16 values per invocation)', async () => {
      expect(await checkForward(3, 4096, 7)).toBeLessThanOrEqual(1);
    });
    it('R = 2, D = 1536 (aim-600M width), eps = 1e-5 (ml-l3m head)', async () => {
      expect(await checkForward(2, 1536, 8, { eps: 1e-5 })).toBeLessThanOrEqual(1);
    });
    it('rows offset by 1000 (where E[x²] − E[x]² would cancel catastrophically), R = 5, D = 192', async () => {
      expect(await checkForward(5, 192, 9, { offset: 1000 })).toBeLessThanOrEqual(1);
    });
    it('more than 65535 rows: the 2-D grid folds back to the right rows (R = 65537, D = 2)', async () => {
      expect(await checkForward(65537, 2, 10)).toBeLessThanOrEqual(1);
    });

    it('the bound admits the exact result rounded to f32 but not a 1e-5 slip', () => {
      const rows = 5;
      const dim = 257;
      const eps = 1e-6;
      const data = inputs(rows, dim, 11);
      const want = layerNormReference(data.x, data.weight, data.bias, rows, dim, eps);
      const bounds = layerNormForwardErrorBounds(
        data.x,
        data.weight,
        data.bias,
        rows,
        dim,
        eps,
        depthOf(dim),
      );
      const tol = (k: number) => bounds.y[k];
      expect(worstRatio(Float32Array.from(want.y), want.y, tol)).toBeLessThanOrEqual(1);
      const slipped = Float64Array.from(want.y);
      slipped[300] += 1e-5;
      expect(worstRatio(slipped, want.y, tol)).toBeGreaterThan(1);
      // Row 1 normalised with row 0's statistics (a wrong row index for mean/rstd).
      const wrong = Float64Array.from(want.y);
      for (let i = 0; i < dim; i++) {
        const k = dim + i;
        wrong[k] = (data.x[k] - want.mean[0]) * want.rstd[0] * data.weight[i] + data.bias[i];
      }
      expect(worstRatio(wrong, want.y, tol)).toBeGreaterThan(1);
    });
  });

/**
 * Backward bounds, given statistics with errors (δμ, ε_r) and e_i as above, g = dy·w,
 * ḡ = mean(g), c̄ = mean(g·x̂) per row, d = the reduction depth:
 *   Eg = γ_{d+2}·Σ|g|/D,  Ec = (γ_{d+3}·Σ|g·x̂| + Σ|g|·e)/D
 *   |δdx_i| ≤ r·(u|g_i| + Eg + e_i·|c̄| + |x̂_i|·Ec + 2u·(|g_i| + |ḡ| + |x̂_i·c̄|)) + (ε_r + u)·|dx_i|
 *   |δdw_j| ≤ γ_{R+2}·Σ_r|dy·x̂| + Σ_r|dy|·e,   |δdb_j| ≤ γ_{R+1}·Σ_r|dy|
 * (the column sums' grouping does not matter: γ_n bounds any order). Factor 2 as above.
 */
function backwardTolerances(
  data: ReturnType<typeof inputs>,
  rows: number,
  dim: number,
  eps: number,
  errs: RowErrors,
) {
  const ones = new Float64Array(dim).fill(1);
  const { y: xhat, rstd } = layerNormReference(data.x, ones, new Float64Array(dim), rows, dim, eps);
  const want = layerNormBackwardReference(data.dy, data.x, data.weight, rows, dim, eps);
  const e = xhatErrors(data.x, rows, dim, eps, errs);
  const d = depthOf(dim);
  const dxTol = new Float64Array(rows * dim);
  const dwAbs = new Float64Array(dim);
  const dbAbs = new Float64Array(dim);
  const dwFromXhat = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    let sumG = 0;
    let sumGX = 0;
    let absG = 0;
    let absGX = 0;
    let absGE = 0;
    for (let i = 0; i < dim; i++) {
      const k = r * dim + i;
      const g = data.dy[k] * data.weight[i];
      sumG += g;
      sumGX += g * xhat[k];
      absG += Math.abs(g);
      absGX += Math.abs(g * xhat[k]);
      absGE += Math.abs(g) * e[k];
      dwAbs[i] += Math.abs(data.dy[k] * xhat[k]);
      dbAbs[i] += Math.abs(data.dy[k]);
      dwFromXhat[i] += Math.abs(data.dy[k]) * e[k];
    }
    const gBar = sumG / dim;
    const cBar = sumGX / dim;
    const eg = (gammaF32(d + 2) * absG) / dim;
    const ec = (gammaF32(d + 3) * absGX + absGE) / dim;
    for (let i = 0; i < dim; i++) {
      const k = r * dim + i;
      const g = Math.abs(data.dy[k] * data.weight[i]);
      const inner =
        U * g +
        eg +
        e[k] * Math.abs(cBar) +
        Math.abs(xhat[k]) * ec +
        2 * U * (g + Math.abs(gBar) + Math.abs(xhat[k] * cBar));
      dxTol[k] = 2 * (rstd[r] * inner + (errs.rstdRel[r] + U) * Math.abs(want.dx[k])) + 1e-30;
    }
  }
  const dwTol = Float64Array.from(
    dwAbs,
    (v, j) => 2 * (gammaF32(rows + 2) * v + dwFromXhat[j]) + 1e-30,
  );
  const dbTol = Float64Array.from(dbAbs, (v) => 2 * gammaF32(rows + 1) * v + 1e-30);
  return { want, dxTol, dwTol, dbTol };
}

/** Statistics exactly rounded to f32 (δμ = u|μ|, ε_r = u): tests the backward on its own. */
function roundedStats(data: ReturnType<typeof inputs>, rows: number, dim: number, eps: number) {
  const ones = new Float64Array(dim).fill(1);
  const { mean, rstd } = layerNormReference(data.x, ones, ones, rows, dim, eps);
  return {
    mean: Float32Array.from(mean),
    rstd: Float32Array.from(rstd),
    errs: {
      dMean: Float64Array.from(mean, (m) => U * Math.abs(m)),
      rstdRel: new Float64Array(rows).fill(U),
    },
  };
}

async function checkBackward(
  rows: number,
  dim: number,
  seed: number,
  { eps = 1e-6, accumulate = false } = {},
): Promise<number> {
  const ctx = await testGpu();
  const data = inputs(rows, dim, seed);
  const stats = roundedStats(data, rows, dim, eps);
  const { want, dxTol, dwTol, dbTol } = backwardTolerances(data, rows, dim, eps, stats.errs);
  const make = (shape: number[], values: Float32Array, label: string) =>
    Tensor.fromArray(ctx, shape, 'f32', values, label);
  const t = {
    dy: make([rows, dim], data.dy, 'dy'),
    x: make([rows, dim], data.x, 'x'),
    weight: make([dim], data.weight, 'weight'),
    mean: make([rows], stats.mean, 'mean'),
    rstd: make([rows], stats.rstd, 'rstd'),
  };
  let got: { dx: Tensor<'f32'>; dweight: Tensor<'f32'>; dbias: Tensor<'f32'> };
  const prevDx = randomF32(rows * dim, seed + 10);
  const prevDw = randomF32(dim, seed + 11);
  const prevDb = randomF32(dim, seed + 12);
  if (accumulate) {
    got = {
      dx: make([rows, dim], prevDx, 'dx'),
      dweight: make([dim], prevDw, 'dweight'),
      dbias: make([dim], prevDb, 'dbias'),
    };
    const opts = { accumulateInput: true, accumulateParams: true, variant };
    await runOnce(ctx, await prepareLayerNormBackward(ctx, { ...t, ...got }, opts));
    // One more addition each: u·|result|, and the previous value enters the sum's bound.
    for (const [w, prev, tol] of [
      [want.dx, prevDx, dxTol],
      [want.dweight, prevDw, dwTol],
      [want.dbias, prevDb, dbTol],
    ] as const) {
      for (let k = 0; k < w.length; k++) {
        w[k] += prev[k];
        tol[k] += 2 * U * (Math.abs(w[k]) + Math.abs(prev[k]));
      }
    }
  } else {
    got = await layerNormBackward(ctx, t, { variant });
  }
  const ratio = Math.max(
    worstRatio(await got.dx.download(), want.dx, (k) => dxTol[k]),
    worstRatio(await got.dweight.download(), want.dweight, (j) => dwTol[j]),
    worstRatio(await got.dbias.download(), want.dbias, (j) => dbTol[j]),
  );
  for (const tensor of [...Object.values(t), ...Object.values(got)]) tensor.destroy();
  return ratio;
}

for (const v of VARIANTS)
  describe(`layernorm_backward (${v} variant) against the float64 reference`, () => {
    beforeAll(async () => {
      variant = v;
      if (v === 'subgroup') expect((await testGpu()).capabilities.subgroups).toBe(true);
    });
    for (const dim of [1, 3, 33, 64, 192, 200, 257]) {
      for (const rows of [1, 5, 130]) {
        it(`R = ${rows}, D = ${dim}`, async () => {
          expect(await checkBackward(rows, dim, rows * 100 + dim + 5)).toBeLessThanOrEqual(1);
        });
      }
    }
    it('R = 300, D = 70: two row chunks and two column tiles of parameter partials', async () => {
      expect(await checkBackward(300, 70, 21)).toBeLessThanOrEqual(1);
    });
    it('R = 513, D = 3: three row chunks', async () => {
      expect(await checkBackward(513, 3, 22)).toBeLessThanOrEqual(1);
    });
    it('R = 3, D = 4096, eps = 1e-5', async () => {
      expect(await checkBackward(3, 4096, 23, { eps: 1e-5 })).toBeLessThanOrEqual(1);
    });
    it('accumulate: dx += …, dweight += …, dbias += … (R = 300, D = 70)', async () => {
      expect(await checkBackward(300, 70, 24, { accumulate: true })).toBeLessThanOrEqual(1);
    });

    it('forward then backward on the GPU with the saved statistics (R = 130, D = 257)', async () => {
      const ctx = await testGpu();
      const rows = 130;
      const dim = 257;
      const eps = 1e-6;
      const data = inputs(rows, dim, 25);
      const x = Tensor.fromArray(ctx, [rows, dim], 'f32', data.x, 'x');
      const w = Tensor.fromArray(ctx, [dim], 'f32', data.weight, 'weight');
      const b = Tensor.fromArray(ctx, [dim], 'f32', data.bias, 'bias');
      const dy = Tensor.fromArray(ctx, [rows, dim], 'f32', data.dy, 'dy');
      const y = Tensor.empty(ctx, [rows, dim], 'f32', 'y');
      const mean = Tensor.empty(ctx, [rows], 'f32', 'mean');
      const rstd = Tensor.empty(ctx, [rows], 'f32', 'rstd');
      const dx = Tensor.empty(ctx, [rows, dim], 'f32', 'dx');
      const dweight = Tensor.empty(ctx, [dim], 'f32', 'dweight');
      const dbias = Tensor.empty(ctx, [dim], 'f32', 'dbias');
      // One submission, as a training step records it.
      await runOnce(ctx, [
        ...(await prepareLayerNormForward(
          ctx,
          { x, weight: w, bias: b, y, mean, rstd },
          { eps, variant },
        )),
        ...(await prepareLayerNormBackward(
          ctx,
          { dy, x, weight: w, mean, rstd, dx, dweight, dbias },
          { variant },
        )),
      ]);
      const { want, dxTol, dwTol, dbTol } = backwardTolerances(
        data,
        rows,
        dim,
        eps,
        forwardStatErrors(data.x, rows, dim, eps),
      );
      expect(worstRatio(await dx.download(), want.dx, (k) => dxTol[k])).toBeLessThanOrEqual(1);
      expect(
        worstRatio(await dweight.download(), want.dweight, (j) => dwTol[j]),
      ).toBeLessThanOrEqual(1);
      expect(worstRatio(await dbias.download(), want.dbias, (j) => dbTol[j])).toBeLessThanOrEqual(
        1,
      );
      for (const t of [x, w, b, dy, y, mean, rstd, dx, dweight, dbias]) t.destroy();
    });

    it('subgroup: dx and the parameter partials in one dispatch, the partials the same bits as the workgroup variant', async () => {
      const ctx = await testGpu();
      for (const [rows, dim] of [
        [1, 1],
        [257, 65],
        [513, 3],
      ]) {
        const t = {
          dy: Tensor.fromArray(ctx, [rows, dim], 'f32', randomF32(rows * dim, 31)),
          x: Tensor.fromArray(ctx, [rows, dim], 'f32', randomF32(rows * dim, 32, -2, 2)),
          weight: Tensor.fromArray(ctx, [dim], 'f32', randomF32(dim, 33, 0.5, 1.5)),
          mean: Tensor.fromArray(ctx, [rows], 'f32', randomF32(rows, 34, -0.2, 0.2)),
          rstd: Tensor.fromArray(ctx, [rows], 'f32', randomF32(rows, 35, 0.8, 1.2)),
        };
        const grads: Record<string, Float32Array>[] = [];
        for (const v of ['subgroup', 'workgroup'] as const) {
          const out = {
            dx: Tensor.empty(ctx, [rows, dim], 'f32'),
            dweight: Tensor.empty(ctx, [dim], 'f32'),
            dbias: Tensor.empty(ctx, [dim], 'f32'),
          };
          const dispatches = await prepareLayerNormBackward(ctx, { ...t, ...out }, { variant: v });
          expect(dispatches.map((d) => d.name.split(/[[{]/)[0])).toEqual(
            v === 'subgroup'
              ? ['layernorm_backward_subgroup:input_and_param_grads', 'layernorm_param_reduce']
              : [
                  'layernorm_backward:input_grad',
                  'layernorm_backward:param_grad_partials',
                  'layernorm_param_reduce',
                ],
          );
          await runOnce(ctx, dispatches);
          grads.push({ dweight: await out.dweight.download(), dbias: await out.dbias.download() });
          for (const o of Object.values(out)) o.destroy();
        }
        expect(grads[0]).toEqual(grads[1]);
        for (const o of Object.values(t)) o.destroy();
      }
    });

    it('without dweight/dbias only dx is computed (one dispatch)', async () => {
      const ctx = await testGpu();
      const x = Tensor.empty(ctx, [2, 3], 'f32', 'x');
      const dy = Tensor.empty(ctx, [2, 3], 'f32', 'dy');
      const w = Tensor.empty(ctx, [3], 'f32', 'w');
      const mean = Tensor.empty(ctx, [2], 'f32', 'mean');
      const rstd = Tensor.empty(ctx, [2], 'f32', 'rstd');
      const dx = Tensor.empty(ctx, [2, 3], 'f32', 'dx');
      const dispatches = await prepareLayerNormBackward(ctx, { dy, x, weight: w, mean, rstd, dx });
      expect(dispatches).toHaveLength(1);
      await runOnce(ctx, dispatches);
      await expect(
        prepareLayerNormBackward(ctx, { dy, x, weight: w, mean, rstd, dx, dweight: w }),
      ).rejects.toThrow(/both dweight and dbias/);
      for (const t of [x, dy, w, mean, rstd, dx]) t.destroy();
    });

    it('the dx bound fails on a gradient that ignores the mean(g·x̂) term', () => {
      const rows = 5;
      const dim = 64;
      const eps = 1e-6;
      const data = inputs(rows, dim, 26);
      const { want, dxTol } = backwardTolerances(
        data,
        rows,
        dim,
        eps,
        roundedStats(data, rows, dim, eps).errs,
      );
      // Drop one term of the formula: dx' = rstd·(g − mean(g)).
      const ones = new Float64Array(dim).fill(1);
      const { rstd } = layerNormReference(data.x, ones, ones, rows, dim, eps);
      const wrong = new Float64Array(rows * dim);
      for (let r = 0; r < rows; r++) {
        let sumG = 0;
        for (let i = 0; i < dim; i++) sumG += data.dy[r * dim + i] * data.weight[i];
        for (let i = 0; i < dim; i++)
          wrong[r * dim + i] = rstd[r] * (data.dy[r * dim + i] * data.weight[i] - sumG / dim);
      }
      expect(worstRatio(wrong, want.dx, (k) => dxTol[k])).toBeGreaterThan(1);
      expect(worstRatio(Float32Array.from(want.dx), want.dx, (k) => dxTol[k])).toBeLessThanOrEqual(
        1,
      );
    });
  });

describe('LayerNorm reference backward: float64 central differences', () => {
  for (const [rows, dim, eps] of [
    [3, 5, 1e-5],
    [2, 1, 1e-6],
    [4, 8, 1e-6],
  ] as const) {
    it(`R = ${rows}, D = ${dim}, eps = ${eps}: dx, dweight and dbias`, () => {
      const data = inputs(rows, dim, rows * 10 + dim);
      const wy = Float64Array.from(randomF32(rows * dim, 99));
      const x = Float64Array.from(data.x);
      const weight = Float64Array.from(data.weight);
      const bias = Float64Array.from(data.bias);
      // f = Σ wy·y, so dy = wy.
      const g = layerNormBackwardReference(wy, x, weight, rows, dim, eps);
      const loss = (xv: Float64Array, wv: Float64Array, bv: Float64Array) =>
        weightedSum(layerNormReference(xv, wv, bv, rows, dim, eps).y, wy);
      const opts = { samples: 1000 };
      expect(
        checkGradient((v) => loss(v, weight, bias), x, g.dx, opts).worstRelativeError,
      ).toBeLessThan(1e-6);
      expect(
        checkGradient((v) => loss(x, v, bias), weight, g.dweight, opts).worstRelativeError,
      ).toBeLessThan(1e-6);
      expect(
        checkGradient((v) => loss(x, weight, v), bias, g.dbias, opts).worstRelativeError,
      ).toBeLessThan(1e-6);
    });
  }
});

describe('layerNorm wrapper: bad input', () => {
  it('rejects wrong shapes, aliasing and a non-positive eps', async () => {
    const ctx = await testGpu();
    const x = Tensor.empty(ctx, [4, 3], 'f32', 'x');
    const w3 = Tensor.empty(ctx, [3], 'f32', 'w3');
    const w4 = Tensor.empty(ctx, [4], 'f32', 'w4');
    await expect(layerNormForward(ctx, { x, weight: w4, bias: w3 })).rejects.toThrow(
      /weight is \[4\], expected \[3\]/,
    );
    await expect(layerNormForward(ctx, { x, weight: w3, bias: w3 }, { eps: 0 })).rejects.toThrow(
      /eps must be > 0/,
    );
    const mean = Tensor.empty(ctx, [4], 'f32', 'mean');
    const rstd = Tensor.empty(ctx, [4], 'f32', 'rstd');
    await expect(
      prepareLayerNormForward(ctx, { x, weight: w3, bias: w3, y: x, mean, rstd }),
    ).rejects.toThrow(/y must not be the same buffer as x/);
    for (const t of [x, w3, w4, mean, rstd]) t.destroy();
  });
});

describe('the LayerNorm browser kernel cases, run here', () => {
  for (const c of KERNEL_CASES.filter((k) => k.name.startsWith('LayerNorm'))) {
    it(c.name, async () => {
      const inputs = c.inputs();
      expect(c.grade(inputs, await c.run(await testGpu(), inputs))).toBeLessThanOrEqual(1);
    });
  }
});
