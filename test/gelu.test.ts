import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import { fileShaderSource } from '../src/gpu/shaderSource.node';
import { resolveIncludes } from '../src/gpu/kernels';
import { geluBackward, geluForward } from '../src/kernels/gelu';
import { erf, erfc, gelu, geluGrad } from '../src/reference/gelu';
import { checkGradient, weightedSum } from '../src/reference/gradcheck';
import { F32_UNIT_ROUNDOFF as U } from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

describe('float64 erf / erfc reference', () => {
  // Known values to 16 significant digits; the series should be within a few ulp of them.
  const known: Array<[number, number]> = [
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
  ];
  for (const [x, want] of known) {
    it(`erf(${x}) = ${want} within 4 ulp`, () => {
      expect(Math.abs(erf(x) - want) / want).toBeLessThan(4 * Number.EPSILON);
    });
  }
  it('erfc(3) = 2.209049699858544e-05 (relative 1e-13, beyond what 1 − erf(3) could give)', () => {
    expect(Math.abs(erfc(3) - 2.209049699858544e-5) / 2.209049699858544e-5).toBeLessThan(1e-13);
  });
  it('erf is odd and erf(0) = 0', () => {
    expect(erf(0)).toBe(0);
    for (const x of [0.1, 0.5, 1, 2.4, 2.5, 3, 6]) expect(erf(-x)).toBe(-erf(x));
  });
  it('erfc continues smoothly across the series / continued-fraction switch at 2.5', () => {
    // erfc'(x) = −2/√π·e^{−x²}: the jump across the switch must be far below a step's change.
    const below = erfc(2.5 - 1e-12);
    const above = erfc(2.5);
    expect(Math.abs(below - above)).toBeLessThan(
      1e-16 + (2 / Math.sqrt(Math.PI)) * Math.exp(-6.25) * 2e-12,
    );
  });
});

/**
 * The WGSL erfc_approx (gelu_math.wgsl) run on the GPU through a test-only kernel, so its
 * accuracy is measured where it runs: Numerical Recipes' fit has fractional error < 1.2e-7
 * in exact arithmetic; f32 evaluation adds
 *   - the exponent argument p = −z² − 1.27 + t·(…): absolute error ≲ u·(z² + 10)
 *     (z² rounded, then added to terms of magnitude ≤ 1.5·Σ t^k), which multiplies the
 *     result by e^{δp} ≈ 1 + δp;
 *   - exp itself (WGSL allows 3 + 2|p| ULP; 1 ULP = 2u), t = 1/(1 + z/2) (2.5 ULP, felt
 *     with weight ≤ 1 + |dp/dt|·t ≤ 3) and the final product (u).
 * So |rel err| ≤ 1.2e-7 + u·(z² + 10) + 2u·(3 + 2|p|) + 2u·2.5·3 + u  with |p| ≤ z² + 1.3.
 * For x < 0, erfc = 2 − r with r ≤ 1, and the error of r is at most half as large relative
 * to 2 − r ≥ 1. The sweep asserts this bound; the report prints the worst measured value.
 */
function erfcBound(x: number): number {
  const z = Math.abs(x);
  const p = z * z + 1.3;
  return 1.2e-7 + U * (z * z + 10) + 2 * U * (3 + 2 * p) + 2 * U * 7.5 + U;
}

async function runErfcApprox(xs: Float32Array): Promise<Float32Array> {
  const ctx = await testGpu();
  const math = await resolveIncludes('gelu_math', fileShaderSource());
  const code = `${math}
@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> ys: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&xs)) { ys[id.x] = erfc_approx(xs[id.x]); }
}`;
  const module = ctx.device.createShaderModule({ label: 'erfc_approx sweep', code });
  const pipeline = await ctx.device.createComputePipelineAsync({
    layout: 'auto',
    compute: { module, entryPoint: 'main' },
  });
  const x = Tensor.fromArray(ctx, [xs.length], 'f32', xs, 'erfc x');
  const y = Tensor.empty(ctx, [xs.length], 'f32', 'erfc y');
  const bindGroup = ctx.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: x.buffer } },
      { binding: 1, resource: { buffer: y.buffer } },
    ],
  });
  await ctx.submit('erfc sweep', (encoder) => {
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(xs.length / 64));
    pass.end();
  });
  const out = await y.download();
  x.destroy();
  y.destroy();
  return out;
}

/** The coefficients of erfc_approx as written in gelu_math.wgsl (so a typo there is caught). */
async function wgslErfcCoefficients(): Promise<number[]> {
  const source = await fileShaderSource()('gelu_math');
  const body = /let poly =([^;]*);/.exec(source);
  if (!body) throw new Error('gelu_math.wgsl: no `let poly = …;` in erfc_approx');
  return (body[1].replace(/\s+/g, '').match(/[-+]?\d+\.\d+/g) ?? []).map(Number);
}

describe('gelu_math.wgsl erfc_approx accuracy', () => {
  it('its coefficients reproduce the Numerical Recipes fit: < 1.2e-7 relative in float64 where erfc > 1e-30', async () => {
    const c = await wgslErfcCoefficients();
    expect(c).toHaveLength(10); // the constant −1.26551223, then 9 Horner coefficients
    const approx = (x: number) => {
      const z = Math.abs(x);
      const t = 1 / (1 + 0.5 * z);
      let h = c[9];
      for (let k = 8; k >= 1; k--) h = c[k] + t * h;
      const r = t * Math.exp(-z * z + c[0] + t * h);
      return x >= 0 ? r : 2 - r;
    };
    let worst = 0;
    // erfc(8.1) ≈ 1e-30: beyond that f32 underflows anyway.
    for (let i = 0; i <= 16200; i++) {
      const x = -8.1 + i * 1e-3;
      worst = Math.max(worst, Math.abs(approx(x) - erfc(x)) / erfc(x));
    }
    expect(worst).toBeLessThan(1.2e-7);
  });

  it('in f32 on the GPU, relative error over x ∈ [−6, 6] stays within the derived bound', async () => {
    const n = 12001;
    const xs = Float32Array.from({ length: n }, (_, i) => -6 + (12 * i) / (n - 1));
    const got = await runErfcApprox(xs);
    let worstBoundRatio = 0;
    let worstRelSmall = 0; // |x| ≤ 2: where GELU's values and slopes matter most
    let worstRel = 0;
    for (let i = 0; i < n; i++) {
      const want = erfc(xs[i]);
      const rel = Math.abs(got[i] - want) / want;
      worstRel = Math.max(worstRel, rel);
      if (Math.abs(xs[i]) <= 2) worstRelSmall = Math.max(worstRelSmall, rel);
      worstBoundRatio = Math.max(worstBoundRatio, rel / erfcBound(xs[i]));
    }
    console.log(
      `erfc_approx (f32): worst relative error ${worstRel.toExponential(2)} on [−6,6], ` +
        `${worstRelSmall.toExponential(2)} on [−2,2]; worst error/bound ${worstBoundRatio.toFixed(3)}`,
    );
    expect(worstBoundRatio).toBeLessThanOrEqual(1);
  });

  it('the bound is tight enough to fail: erfc(x·(1 + 1e-6)) instead of erfc(x) exceeds it', () => {
    // The slope of ln erfc is ~2z, so a 1e-6 relative slip of the argument (e.g. a wrong
    // 1/√2 constant) changes erfc by ~2z²·1e-6 ≫ the bound once z ≳ 1.
    let worst = 0;
    for (const x of [1.5, 2, 3, 4]) {
      worst = Math.max(worst, Math.abs(erfc(x * (1 + 1e-6)) - erfc(x)) / erfc(x) / erfcBound(x));
    }
    expect(worst).toBeGreaterThan(1);
  });
});

/**
 * Tolerances for the GELU kernels, from the erfc bound above:
 * forward y = ½·x·erfc(−x/√2): the argument x·(1/√2) is rounded (relative u), which moves
 * erfc by |d ln erfc/dz|·|z|·u ≤ 2(z² + 1)·u (Mills ratio), plus erfc's own error and two
 * products (2u). backward dx = dy·(Φ(x) + x·φ(x)): the same for Φ; for x·φ(x) the exponent
 * −x²/2 is rounded (absolute u·x²/2), exp is within 3 + x² ULP = 2u·(3 + x²) and three
 * products add 3u; the two terms can cancel, so the bound is on their magnitudes, not the sum.
 */
function cdfRelBound(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  return erfcBound(z) + 2 * (z * z + 1) * U + 2 * U;
}

function geluTolerance(x: number): number {
  return cdfRelBound(x) * Math.abs(gelu(x)) + 1e-38;
}

function geluGradTolerance(x: number, dy: number): number {
  const cdf = 0.5 * erfc(-x / Math.SQRT2);
  const pdfTerm = Math.abs(x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
  const pdfRel = U * (0.5 * x * x) + 2 * U * (3 + x * x) + 3 * U;
  return Math.abs(dy) * (cdf * cdfRelBound(x) + pdfTerm * pdfRel + U * (cdf + pdfTerm)) + 1e-38;
}

describe('gelu.wgsl forward and backward against the float64 reference', () => {
  const sizes = [1, 255, 257, 1000, 3 * 7 * 13];
  for (const n of sizes) {
    it(`forward, n = ${n}`, async () => {
      const ctx = await testGpu();
      const xData = randomF32(n, n, -6, 6);
      const x = Tensor.fromArray(ctx, [n], 'f32', xData, 'x');
      const y = await geluForward(ctx, { x });
      const got = await y.download();
      const want = Float64Array.from(xData, gelu);
      expect(worstRatio(got, want, (i) => geluTolerance(xData[i]))).toBeLessThanOrEqual(1);
      x.destroy();
      y.destroy();
    });
    it(`backward, n = ${n}`, async () => {
      const ctx = await testGpu();
      const xData = randomF32(n, n + 1, -6, 6);
      const dyData = randomF32(n, n + 2);
      const x = Tensor.fromArray(ctx, [n], 'f32', xData, 'x');
      const dy = Tensor.fromArray(ctx, [n], 'f32', dyData, 'dy');
      const dx = await geluBackward(ctx, { x, dy });
      const got = await dx.download();
      const want = Float64Array.from(xData, (v, i) => dyData[i] * geluGrad(v));
      expect(
        worstRatio(got, want, (i) => geluGradTolerance(xData[i], dyData[i])),
      ).toBeLessThanOrEqual(1);
      for (const t of [x, dy, dx]) t.destroy();
    });
  }

  it('accumulate: y += gelu(x) and dx += dy·gelu′(x), 3-D shape [3, 5, 7]', async () => {
    const ctx = await testGpu();
    const shape = [3, 5, 7];
    const n = 105;
    const xData = randomF32(n, 31, -4, 4);
    const dyData = randomF32(n, 32);
    const previous = randomF32(n, 33);
    const x = Tensor.fromArray(ctx, shape, 'f32', xData, 'x');
    const dy = Tensor.fromArray(ctx, shape, 'f32', dyData, 'dy');
    const y = Tensor.fromArray(ctx, shape, 'f32', previous, 'y (previous)');
    const dx = Tensor.fromArray(ctx, shape, 'f32', previous, 'dx (previous)');
    await geluForward(ctx, { x, y }, { accumulate: true });
    await geluBackward(ctx, { x, dy, dx }, { accumulate: true });
    const wantY = Float64Array.from(xData, (v, i) => previous[i] + gelu(v));
    const wantDx = Float64Array.from(xData, (v, i) => previous[i] + dyData[i] * geluGrad(v));
    // One more f32 addition: u·|sum|.
    expect(
      worstRatio(
        await y.download(),
        wantY,
        (i) => geluTolerance(xData[i]) + U * Math.abs(wantY[i]),
      ),
    ).toBeLessThanOrEqual(1);
    expect(
      worstRatio(
        await dx.download(),
        wantDx,
        (i) => geluGradTolerance(xData[i], dyData[i]) + U * Math.abs(wantDx[i]),
      ),
    ).toBeLessThanOrEqual(1);
    for (const t of [x, dy, y, dx]) t.destroy();
  });

  it('extreme inputs give finite values: gelu(±30), gelu′(±30)', async () => {
    const ctx = await testGpu();
    const xData = Float32Array.from([-30, -10, -1e-20, 0, 1e-20, 10, 30]);
    const x = Tensor.fromArray(ctx, [xData.length], 'f32', xData, 'x');
    const ones = Tensor.fromArray(
      ctx,
      [xData.length],
      'f32',
      new Float32Array(xData.length).fill(1),
      'dy',
    );
    const y = await (await geluForward(ctx, { x })).download();
    const d = await (await geluBackward(ctx, { x, dy: ones })).download();
    expect([...y].every(Number.isFinite)).toBe(true);
    expect([...d].every(Number.isFinite)).toBe(true);
    expect(y[6]).toBe(30);
    expect(Math.abs(y[0])).toBeLessThan(1e-30);
    expect(d[6]).toBe(1);
    expect(d[3]).toBe(0.5);
  });

  it('rejects mismatched shapes and aliasing', async () => {
    const ctx = await testGpu();
    const x = Tensor.empty(ctx, [4], 'f32', 'x');
    const bad = Tensor.empty(ctx, [5], 'f32', 'bad');
    await expect(geluForward(ctx, { x, y: bad })).rejects.toThrow(/y is \[5\]/);
    await expect(geluBackward(ctx, { x, dy: bad })).rejects.toThrow(/dy is \[5\]/);
    await expect(geluForward(ctx, { x, y: x })).rejects.toThrow(
      /gelu: y must not be the same buffer as x/,
    );
    await expect(geluForward(ctx, { x }, { accumulate: true })).rejects.toThrow(/accumulate needs/);
  });
});

describe('GELU reference backward', () => {
  it('geluGrad matches central differences of gelu (float64)', () => {
    const x = Float64Array.from(randomF32(40, 5, -5, 5));
    const w = Float64Array.from(randomF32(40, 6));
    const f = (v: Float64Array) => weightedSum(Float64Array.from(v, gelu), w);
    const analytic = Float64Array.from(x, (v, i) => w[i] * geluGrad(v));
    // erf is accurate to ~1e-14, which the default h = 1e-6 turns into ~1e-8 of noise in a
    // difference quotient — too much where gelu′ ≈ 0 (x ≈ −0.75). h = 1e-4 keeps that noise
    // at 1e-10 and the O(h²) truncation at ~1e-9; the floor 1e-3 ignores coordinates whose
    // gradient is below the noise. A wrong derivative is off by O(1).
    const result = checkGradient(f, x, analytic, { samples: 40, h: 1e-4, floor: 1e-3 });
    expect(result.worstRelativeError).toBeLessThan(1e-6);
  });
});
