/**
 * The WGSL AIM v1 model (src/model/gpuModel.ts) end to end: forward (loss, per-position
 * losses) and backward (every parameter gradient) against the float64 reference on the
 * same f32 parameters and inputs, on a tiny config and on aim-micro with batch 3, both head
 * variants, no head, raw targets, a custom trunk width, a random order and random prefixes; then central finite differences of the GPU
 * loss itself, and gradient accumulation.
 */
import { describe, expect, it } from 'vitest';
import { numPatches, PRESETS, type AimConfig } from '../src/model/config';
import { AimGpuModel } from '../src/model/gpuModel';
import { randomOrder } from '../src/model/orderings';
import { initParameters } from '../src/model/params';
import type { ModelInputs } from '../src/model/reference';
import { modelBackwardReference, type ModelGradients } from '../src/model/referenceBackward';
import { mulberry32, randomF32 } from '../src/reference/random';
import { mixedTolerance, worstRatio } from './compare';
import { testGpu } from './gpuContext';
import { tinyConfig } from './modelConfigs';

function awkwardConfig(): AimConfig {
  const c = tinyConfig(false);
  return {
    ...c,
    imageSize: 12,
    width: 12,
    heads: 3,
    depth: 1,
    head: { ...c.head, width: 12, depth: 0 },
  };
}

const micro = PRESETS['aim-micro'];
const CASES: { name: string; config: AimConfig; batch: number }[] = [
  { name: 'tiny, B = 3', config: tinyConfig(false), batch: 3 },
  { name: 'tiny with extraNormTerm, B = 3', config: tinyConfig(true), batch: 3 },
  { name: 'aim-micro, B = 3', config: micro, batch: 3 },
  {
    name: 'aim-micro with extraNormTerm, B = 3',
    config: { ...micro, head: { ...micro.head, extraNormTerm: true } },
    batch: 3,
  },
  // Odd sizes everywhere: 3×3 = 9 tokens, width 12 in 3 heads, one block, no head blocks, B = 1.
  {
    name: 'awkward (K = 9, D = 12, 3 heads, head depth 0), B = 1',
    config: awkwardConfig(),
    batch: 1,
  },
  // The paper's Table 3e "no head" (proj_out on the post-trunk norm) and 3a raw targets.
  {
    name: 'tiny, head none, raw targets, B = 3',
    config: {
      ...tinyConfig(false),
      head: { ...tinyConfig(false).head, kind: 'none' },
      targets: 'raw',
    },
    batch: 3,
  },
  {
    name: 'aim-micro, head none, B = 3',
    config: { ...micro, head: { ...micro.head, kind: 'none' } },
    batch: 3,
  },
  {
    name: 'aim-micro, width 48, depth 1, 3 heads, head width 40, raw targets, B = 2',
    config: {
      ...micro,
      width: 48,
      depth: 1,
      heads: 3,
      head: { ...micro.head, width: 40 },
      targets: 'raw',
    },
    batch: 2,
  },
];

/** Initial parameters plus noise, so LayerNorm weights/biases and every path matter. */
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

function randomInputs(
  c: AimConfig,
  batch: number,
  seed: number,
): ModelInputs & {
  images: Float32Array;
  order: number[];
  prefixLengths: number[];
} {
  const K = numPatches(c);
  const g = c.imageSize / c.patchSize;
  const next = mulberry32(seed);
  return {
    batch,
    images: randomF32(batch * 3 * c.imageSize * c.imageSize, seed, -2, 2),
    order: randomOrder(g, g, seed),
    prefixLengths: Array.from({ length: batch }, () => 1 + Math.floor(next() * (K - 1))),
  };
}

interface GpuRun {
  loss: number;
  perPosition: Float32Array;
  grads: Map<string, Float32Array>;
}

interface Prepared {
  model: AimGpuModel;
  params: Map<string, Float32Array>;
  inputs: ReturnType<typeof randomInputs>;
  gpu: GpuRun;
  ref: ModelGradients;
}

async function runGpu(model: AimGpuModel): Promise<GpuRun> {
  await model.forwardBackward();
  return {
    loss: await model.readLoss(),
    perPosition: await model.outputs.perPosition.download(),
    grads: await model.downloadGradients(),
  };
}

const prepared = new Map<string, Promise<Prepared>>();

/** Builds each case's model, runs it once and its reference once (shared by the tests). */
function prepare(index: number): Promise<Prepared> {
  const { name, config: c, batch } = CASES[index];
  let p = prepared.get(name);
  if (!p) {
    p = (async () => {
      const ctx = await testGpu();
      const model = await AimGpuModel.create(ctx, c, batch);
      const params = randomParams(c, 10 + index);
      const inputs = randomInputs(c, batch, 20 + index);
      model.uploadParameters(params);
      model.setInputs(inputs.images, inputs.order, inputs.prefixLengths);
      const gpu = await runGpu(model);
      return { model, params, inputs, gpu, ref: modelBackwardReference(c, params, inputs) };
    })();
    prepared.set(name, p);
  }
  return p;
}

/*
 * Tolerances. The GPU runs the reference's exact graph in f32 (u = 2⁻²⁴ ≈ 6e-8), through
 * ~30–60 dependent kernels (matmuls over up to 4D = 256 terms and B·K = 48 rows, softmaxes,
 * LayerNorms whose rstd amplifies absolute errors). Measured: the loss agrees to ≤ 1.1e-7
 * relative; gradient errors stay below 7.4e-6 × the largest |gradient| of their tensor
 * (≈ 120 u; worst over the seeds tried while choosing the tolerance, ~1e-6 typical), and
 * the per-position losses below 6 % of their tolerance. Hence, per element:
 *   gradients:   |got − want| ≤ 3e-5 · max_T |want| + 1e-4 · |want|   (per tensor T)
 *   losses:      |got − want| ≤ 1e-6 · max |want| + 1e-5 · |want|
 * ≥ 4× the worst error seen (≈ 30× on the seeds below), yet ~500 u: a dropped term, a mask
 * off by one token, a wrong row or the order ignored move gradients by 1–100 % of their
 * scale, and the test after the comparisons shows each such result failing.
 */
const GRAD_ATOL = 3e-5;
const GRAD_RTOL = 1e-4;
const LOSS_ATOL = 1e-6;
const LOSS_RTOL = 1e-5;

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

function gradRatio(got: ArrayLike<number>, want: ArrayLike<number>): number {
  return worstRatio(got, want, mixedTolerance(want, GRAD_ATOL * maxAbs(want), GRAD_RTOL));
}

function lossRatio(got: ArrayLike<number>, want: ArrayLike<number>): number {
  return worstRatio(got, want, mixedTolerance(want, LOSS_ATOL * maxAbs(want), LOSS_RTOL));
}

/** The worst gradient ratio over all tensors, and where. */
function worstGradient(
  gpu: Map<string, Float32Array>,
  ref: Map<string, Float64Array>,
): { ratio: number; name: string } {
  let worst = { ratio: 0, name: '' };
  for (const [name, want] of ref) {
    const ratio = gradRatio(gpu.get(name) ?? [], want);
    if (!(ratio <= worst.ratio)) worst = { ratio, name };
  }
  return worst;
}

describe('AIM GPU model against the float64 reference', () => {
  CASES.forEach(({ name }, index) => {
    it(`${name}: loss, per-position losses and every parameter gradient`, async () => {
      const { model, gpu, ref } = await prepare(index);
      expect(model.parameterNames.sort()).toEqual([...ref.grads.keys()].sort());
      expect(Number.isFinite(gpu.loss)).toBe(true);
      expect(lossRatio([gpu.loss], [ref.loss])).toBeLessThanOrEqual(1);
      const perPosition = lossRatio(gpu.perPosition, ref.forward.perPosition);
      expect(perPosition).toBeLessThanOrEqual(1);
      const worst = worstGradient(gpu.grads, ref.grads);
      console.log(
        `${name}: loss ${gpu.loss.toFixed(6)} (rel. err ${Math.abs(gpu.loss / ref.loss - 1).toExponential(1)}), ` +
          `per-position error/tolerance ${perPosition.toFixed(3)}, ` +
          `worst gradient error/tolerance ${worst.ratio.toFixed(3)} at ${worst.name}`,
      );
      expect(worst.ratio).toBeLessThanOrEqual(1);
    });
  });

  it('the comparison fails for a dropped gradient, a prefix off by one, or the order ignored', async () => {
    const { config: c } = CASES[2];
    const { params, inputs, gpu, ref } = await prepare(2);
    // 1. One gradient tensor left at zero (a dispatch missing from the backward).
    const dropped = new Map(gpu.grads);
    dropped.set('trunk.blocks.1.norm_1.bias', new Float32Array(c.width));
    expect(worstGradient(dropped, ref.grads).ratio).toBeGreaterThan(1);
    // 2. The reference with sample 0's prefix one token longer (a mask off by one).
    const shifted = [...inputs.prefixLengths];
    shifted[0] += shifted[0] < numPatches(c) - 1 ? 1 : -1;
    const offByOne = modelBackwardReference(c, params, { ...inputs, prefixLengths: shifted });
    expect(worstGradient(gpu.grads, offByOne.grads).ratio).toBeGreaterThan(10);
    // 3. The reference in raster order while the GPU used the random order.
    const raster = Array.from({ length: numPatches(c) }, (_, i) => i);
    const unordered = modelBackwardReference(c, params, { ...inputs, order: raster });
    expect(lossRatio([gpu.loss], [unordered.loss])).toBeGreaterThan(10);
    expect(worstGradient(gpu.grads, unordered.grads).ratio).toBeGreaterThan(10);
  });

  /*
   * Finite differences of the GPU's own f32 loss. The loss is O(1) and carries rounding
   * noise of ~1e-7 relative, so a float64-style step (1e-6) would leave nothing but noise;
   * with h = 1e-2·max(|w|, 1) central differences have noise ≈ 1e-7/h ≈ 1e-5 and truncation
   * h²·f'''/6 ≈ 1e-5·f''', both ~1e-3 of gradients of ~1e-2. So GPU gradient and GPU
   * finite difference must agree within 1e-2 relative — a check of the backward that uses
   * no reference at all (a sign error, a missing term or a factor 2 fails it).
   */
  for (const index of [0, 2, 5]) {
    it(`${CASES[index].name}: finite differences of the GPU loss match the GPU gradient`, async () => {
      const { model, params, gpu } = await prepare(index);
      // One tensor of each kind on the tiny config; four on aim-micro (each costs 2 forwards).
      const names = [
        'preprocessor.patchifier.proj.weight',
        'trunk.blocks.0.attn.qkv.weight',
        'trunk.blocks.1.norm_1.weight',
        'head.blocks.0.mlp.fc1.weight',
        ...(index === 0
          ? [
              'preprocessor.patchifier.norm.bias',
              'trunk.blocks.1.mlp.fc2.weight',
              'trunk.post_trunk_norm.weight',
              'head.proj_in.bias',
              'head.proj_out.weight',
            ]
          : []),
        // (Without a head, proj_out is the head's only tensor.)
        ...(index === 5 ? ['head.proj_out.weight', 'head.proj_out.bias'] : []),
      ].filter((name) => gpu.grads.has(name));
      let worst = 0;
      for (const name of names) {
        const grad = gpu.grads.get(name)!;
        // The coordinate with the largest gradient: its relative error is meaningful.
        let i = 0;
        for (let k = 1; k < grad.length; k++) if (Math.abs(grad[k]) > Math.abs(grad[i])) i = k;
        const w = Float32Array.from(params.get(name)!);
        const h = 1e-2 * Math.max(Math.abs(w[i]), 1);
        const lossAt = async (value: number) => {
          w[i] = value;
          model.uploadParameter(name, w);
          await model.forward();
          return model.readLoss();
        };
        const saved = w[i];
        const plus = await lossAt(saved + h);
        const minus = await lossAt(saved - h);
        model.uploadParameter(name, params.get(name)!);
        const numeric = (plus - minus) / (2 * h);
        const rel = Math.abs(numeric - grad[i]) / Math.abs(grad[i]);
        worst = Math.max(worst, rel);
        expect(rel, `${name}[${i}]: GPU ${grad[i]}, finite difference ${numeric}`).toBeLessThan(
          1e-2,
        );
      }
      console.log(
        `${CASES[index].name}: GPU finite differences, worst relative error ${worst.toExponential(2)}`,
      );
      // The model is left with its original parameters (and loss) for the other tests.
      await model.forward();
      expect(await model.readLoss()).toBe(gpu.loss);
    });
  }

  it('accumulateGradients: two passes after zeroGradients give twice the gradients', async () => {
    const { config: c, batch } = CASES[1];
    const { params, inputs, ref } = await prepare(1);
    const ctx = await testGpu();
    const model = await AimGpuModel.create(ctx, c, batch, { accumulateGradients: true });
    try {
      model.uploadParameters(params);
      model.setInputs(inputs.images, inputs.order, inputs.prefixLengths);
      // Garbage first, so that zeroGradients is what makes the sum right.
      await model.forwardBackward();
      await model.zeroGradients();
      await model.forwardBackward();
      await model.forwardBackward();
      const got = await model.downloadGradients();
      const doubled = new Map([...ref.grads].map(([k, v]) => [k, v.map((x) => 2 * x)]));
      expect(worstGradient(got, doubled).ratio).toBeLessThanOrEqual(1);
    } finally {
      model.destroy();
    }
  });

  it('refuses bad inputs and parameters with messages that say what is wrong', async () => {
    const { model, params } = await prepare(0);
    const K = numPatches(model.config);
    const images = new Float32Array(model.inputs.images.size);
    expect(() => model.setInputs(images, [0, 1, 2, 2], [1, 1, 1])).toThrow(/permutation of 0…3/);
    expect(() => model.setInputs(images, [0, 1, 2, 3], [1, 1])).toThrow(/2 prefix lengths/);
    expect(() => model.setInputs(images, [0, 1, 2, 3], [1, K + 1, 1])).toThrow(/outside 0…4/);
    const bad = new Map(params);
    bad.set('trunk.blocks.0.attn.qkv.weight', new Float32Array(5));
    expect(() => model.uploadParameters(bad)).toThrow(/qkv.weight has 5 values, expected 192/);
    const partial = new Map([...params].filter(([k]) => !k.startsWith('head.')));
    expect(() => model.uploadParameters(partial)).toThrow(/missing parameter head/);
    expect(() => model.uploadParameters(partial, { partial: true })).not.toThrow();
  });
});
