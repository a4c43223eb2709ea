/**
 * The step profile's inputs: every dispatch of a real Trainer step carries its cost, matmul
 * FLOPs are 2·M·N·K·batch, the structure and the roofline add up, and a GpuContext can make
 * its kernel choices as on another adapter while compiling on this one.
 */
import { describe, expect, it } from 'vitest';
import {
  kernelFamily,
  isMatmulProduct,
  parseKernelName,
  stepStructure,
} from '../bench/profileSuite';
import { modelDispatch, ROOFLINE_GPUS } from '../bench/roofline';
import { makeProceduralDataset } from '../src/data/procedural';
import { adapterProfile } from '../src/gpu/adapterProfiles';
import { GpuContext } from '../src/gpu/context';
import { releaseDispatch, type PreparedDispatch } from '../src/gpu/dispatch';
import { fileShaderSource } from '../src/gpu/shaderSource.node';
import { Tensor } from '../src/gpu/tensor';
import { matmulShape, prepareMatmul } from '../src/kernels/matmul';
import { PRESETS } from '../src/model/config';
import { defaultsFor, type RunSettings } from '../src/training/settings';
import { Trainer } from '../src/training/trainer';
import { testGpu } from './gpuContext';

const microSettings: RunSettings = {
  ...defaultsFor('aim-micro'),
  batch: 3,
  steps: 2,
  evalEvery: 1_000_000,
  checkpointEvery: 0,
  seed: 0,
};

function matmulFlops(dispatches: readonly PreparedDispatch[]): number {
  return dispatches
    .filter((d) => isMatmulProduct(kernelFamily(d.name)))
    .reduce((sum, d) => sum + d.cost!.flops, 0);
}

describe('dispatch costs', () => {
  it('a matmul costs 2·M·N·K·batch FLOPs and reads / writes each operand once', async () => {
    const ctx = await testGpu();
    const cases = [
      { a: [5, 7], b: [7, 3], opts: {} },
      { a: [7, 5], b: [3, 7], opts: { transA: true, transB: true } },
      { a: [2, 5, 7], b: [7, 3], opts: {} },
      { a: [2, 5, 7], b: [2, 7, 3], opts: {} },
      { a: [1, 1], b: [1, 1], opts: {} },
    ];
    for (const c of cases) {
      const s = matmulShape(c.a, c.b, c.opts);
      const a = Tensor.empty(ctx, c.a, 'f32', 'a');
      const b = Tensor.empty(ctx, c.b, 'f32', 'b');
      const out = Tensor.empty(
        ctx,
        c.a.length === 3 ? [s.batch, s.m, s.n] : [s.m, s.n],
        'f32',
        'c',
      );
      const dispatches = await prepareMatmul(ctx, { a, b, c: out }, c.opts);
      try {
        const products = dispatches.filter((d) => isMatmulProduct(kernelFamily(d.name)));
        expect(matmulFlops(products), JSON.stringify(c)).toBe(2 * s.m * s.n * s.k * s.batch);
        const first = dispatches[0].cost!;
        expect(first.bytesRead).toBeGreaterThanOrEqual(4 * (a.size + b.size));
        expect(dispatches.at(-1)!.cost!.bytesWritten).toBeGreaterThanOrEqual(4 * out.size);
      } finally {
        dispatches.forEach(releaseDispatch);
        for (const t of [a, b, out]) t.destroy();
      }
    }
  });

  it('every dispatch of a real aim-micro Trainer step has a cost; the backward does twice the forward matmul work', async () => {
    const ctx = await testGpu();
    const dataset = makeProceduralDataset({ size: 16, trainCount: 8, valCount: 1, seed: 1 });
    const trainer = await Trainer.create(ctx, microSettings, dataset);
    try {
      trainer.loadStep();
      const step = trainer.dispatches;
      expect(step.length).toBeGreaterThan(0);
      for (const d of step) {
        expect(d.cost, d.name).toBeDefined();
        for (const v of Object.values(d.cost!)) {
          expect(Number.isFinite(v) && v >= 0, `${d.name} ${v}`).toBe(true);
        }
        if (isMatmulProduct(kernelFamily(d.name))) expect(d.cost!.flops).toBeGreaterThan(0);
      }
      // Each forward product Y = X·Wᵀ has a weight gradient X ᵀ·dY and (but for the patch
      // embedding, whose input is the image) an input gradient dY·W, each as many FLOPs.
      const c = PRESETS['aim-micro'];
      const tokens = microSettings.batch * (c.imageSize / c.patchSize) ** 2;
      const patchEmbedding = 2 * tokens * 3 * c.patchSize ** 2 * c.width;
      const forward = matmulFlops(trainer.model.forwardDispatches);
      const backward = matmulFlops(trainer.model.backwardDispatches);
      expect(backward).toBe(2 * forward - patchEmbedding);
      expect(matmulFlops(step)).toBe(forward + backward);
    } finally {
      trainer.destroy();
    }
  });
});

describe('the step structure and its roofline', () => {
  it('parses kernel names into kernel, specialisation and constants', () => {
    expect(parseKernelName('matmul[PER_THREAD=8,TILE_K=8]{HAS_BIAS=1,TRANS_B=1}')).toEqual({
      kernel: 'matmul',
      specialize: { PER_THREAD: 8, TILE_K: 8 },
      constants: { HAS_BIAS: 1, TRANS_B: 1 },
    });
    expect(parseKernelName('layernorm_backward:input_grad{THREADS=64}').kernel).toBe(
      'layernorm_backward:input_grad',
    );
    expect(kernelFamily('layernorm_backward:input_grad{THREADS=64}')).toBe('layernorm_backward');
    expect(isMatmulProduct('matmul')).toBe(true);
    expect(isMatmulProduct('matmul_split_k_reduce')).toBe(false);
  });

  it('totals add up over a real step and the modeled time is the sum of the dispatches', async () => {
    const ctx = await testGpu();
    const dataset = makeProceduralDataset({ size: 16, trainCount: 8, valCount: 1, seed: 1 });
    const trainer = await Trainer.create(ctx, microSettings, dataset);
    try {
      const h100 = ROOFLINE_GPUS.h100!;
      const { list, totals, modeled } = stepStructure(trainer.dispatches, h100);
      expect(list.length).toBe(trainer.dispatches.length);
      expect(totals.dispatches).toBe(trainer.dispatches.length);
      expect(Object.values(totals.byKernel).reduce((a, b) => a + b, 0)).toBe(totals.dispatches);
      expect(totals.dispatchesWithoutCost).toBe(0);
      // The backward's second passes (LayerNorm parameter reduces; split-K reduces where K is
      // split) run as one partials_reduce pass per backward list (the head's rows, the rest),
      // and with subgroups each LayerNorm's backward is one dispatch (input gradient and
      // parameter partials together).
      expect(totals.byKernel.partials_reduce).toBe(2);
      expect(totals.byKernel.layernorm_param_reduce).toBeUndefined();
      expect(totals.byKernel.matmul_split_k_reduce).toBeUndefined();
      if (ctx.choices.subgroups)
        expect(totals.byKernel.layernorm_backward_subgroup).toBe(
          totals.byKernel.layernorm_forward_subgroup,
        );
      // Batch 3 of aim-micro fills none of 132 SMs.
      expect(totals.matmulsUnderComputeUnits).toBe(totals.matmuls);
      const sumMs = trainer.dispatches.reduce(
        (a, d) => a + modelDispatch(h100, d).seconds * 1e3,
        0,
      );
      expect(modeled!.stepMs).toBeCloseTo(sumMs, 2);
      expect(modeled!.stepMs).toBeGreaterThanOrEqual(
        totals.dispatches * h100.dispatchOverhead * 1e3,
      );
    } finally {
      trainer.destroy();
    }
  });

  it('an under-filled dispatch is modeled slower in proportion to its missing workgroups', () => {
    const h100 = ROOFLINE_GPUS.h100!;
    const cost = { flops: 28e9, bytesRead: 0, bytesWritten: 0 };
    const full = { workgroups: [132, 1, 1], cost } as unknown as PreparedDispatch;
    const tenth = { workgroups: [13.2, 1, 1], cost } as unknown as PreparedDispatch;
    expect(modelDispatch(h100, full).seconds).toBeCloseTo(1e-3 + h100.dispatchOverhead, 9);
    expect(modelDispatch(h100, tenth).seconds).toBeCloseTo(1e-2 + h100.dispatchOverhead, 9);
    const memory = {
      workgroups: [1000, 1, 1],
      cost: { flops: 1, bytesRead: 3.35e9, bytesWritten: 0 },
    };
    expect(modelDispatch(h100, memory as unknown as PreparedDispatch).bound).toBe('memory');
  });
});

describe('choices as on another adapter', () => {
  it('GpuContext choicesAs: kernels chosen as on an H100, compiled here; needs it cannot meet refused', async () => {
    const ctx = await GpuContext.create({
      shaderSource: fileShaderSource(),
      choicesAs: adapterProfile('h100'),
    });
    try {
      expect(ctx.choices.adapter.description).toBe('NVIDIA H100 80GB HBM3 (profile)');
      expect(ctx.capabilities.adapter.description).not.toMatch(/profile/);
      // 2048×1024 output: 128 large tiles, so the large tile on an H100 (and the small one on
      // a CPU adapter, the shared test device).
      const a = Tensor.empty(ctx, [2048, 4], 'f32', 'a');
      const b = Tensor.empty(ctx, [4, 1024], 'f32', 'b');
      const c = Tensor.empty(ctx, [2048, 1024], 'f32', 'c');
      const dispatches = await prepareMatmul(ctx, { a, b, c });
      expect(dispatches[0].name).toContain('PER_THREAD=8');
      dispatches.forEach(releaseDispatch);
      const real = await testGpu();
      if (real.capabilities.adapter.isFallbackAdapter) {
        const ra = Tensor.empty(real, [2048, 4], 'f32', 'a');
        const rb = Tensor.empty(real, [4, 1024], 'f32', 'b');
        const rc = Tensor.empty(real, [2048, 1024], 'f32', 'c');
        const own = await prepareMatmul(real, { a: ra, b: rb, c: rc });
        expect(own[0].name).toContain('PER_THREAD=4');
        own.forEach(releaseDispatch);
        for (const t of [ra, rb, rc]) t.destroy();
      }
      const offered = ctx.capabilities.limits.maxComputeInvocationsPerWorkgroup;
      const needs = { limits: { maxComputeInvocationsPerWorkgroup: offered + 1 } };
      expect(() => ctx.requireForChoice('layerNorm', needs)).toThrow(
        /layerNorm: the variant chosen as on NVIDIA H100 80GB HBM3 \(profile\) needs maxComputeInvocationsPerWorkgroup/,
      );
      expect(() =>
        ctx.requireForChoice('layerNorm', { limits: { maxComputeInvocationsPerWorkgroup: 256 } }),
      ).not.toThrow();
      for (const t of [a, b, c]) t.destroy();
    } finally {
      ctx.destroy();
    }
  });
});
