/**
 * Split-K inside the model: the whole AIM forward and backward with every kernel choice made
 * as on an H100 (GpuContext choicesAs: the h100 profile), so the weight-gradient matmuls
 * split K (on this device's own adapter they would not), against the same float64 reference
 * and tolerances as test/gpuModel.test.ts. Batch 32 of aim-micro gives K = B·T = 512 rows,
 * long enough to split in two (SPLIT_K_MIN_CHUNK = 256 rows a range).
 */
import { describe, expect, it } from 'vitest';
import { ADAPTER_PROFILE_NAMES, adapterProfile } from '../src/gpu/adapterProfiles';
import { GpuContext } from '../src/gpu/context';
import { matmulPlan, weightGradientShape } from '../src/kernels/matmulPlan';
import { fileShaderSource } from '../src/gpu/shaderSource.node';
import { numPatches, PRESETS } from '../src/model/config';
import { AimGpuModel } from '../src/model/gpuModel';
import { randomOrder } from '../src/model/orderings';
import { initParameters, paramSpecs } from '../src/model/params';
import { modelBackwardReference } from '../src/model/referenceBackward';
import { mulberry32, randomF32 } from '../src/reference/random';
import { mixedTolerance, worstRatio } from './compare';
import { testGpu } from './gpuContext';

// test/gpuModel.test.ts's tolerances (derived there): per tensor T,
// |got − want| ≤ 3e-5 · max_T |want| + 1e-4 · |want|.
const GRAD_ATOL = 3e-5;
const GRAD_RTOL = 1e-4;

const maxAbs = (x: ArrayLike<number>) =>
  Array.from(x).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('the AIM backward with split-K weight gradients (choices as on an H100)', () => {
  it('aim-micro, B = 32: every parameter gradient matches the float64 reference', async () => {
    expect(ADAPTER_PROFILE_NAMES).toContain('h100');
    const ctx = await GpuContext.create({
      shaderSource: fileShaderSource(),
      choicesAs: adapterProfile('h100'),
    });
    try {
      const c = PRESETS['aim-micro'];
      const batch = 32;
      const K = numPatches(c);
      const model = await AimGpuModel.create(ctx, c, batch);
      const names = model.backwardDispatches.map((d) => d.name);
      const splits = names.filter((n) => /^matmul[[{]/.test(n) && n.includes('SPLIT_K=1'));
      const grouped = names.filter((n) => n.startsWith('matmul_grouped'));
      // Every weight gradient of aim-micro is split at K = 512: the patch embedding's alone,
      // the others (2 × (qkv, proj, fc1, fc2), proj_in, 1 × (fc1, fc2), proj_out) each grouped
      // with its input gradient (matmulGrouped.ts), which does not say so in its name ...
      expect(splits.length).toBe(1);
      expect(grouped.length).toBe(2 * 4 + 1 + 2 + 1);
      const weights = paramSpecs(c).filter((p) => p.kind === 'linear' || p.kind === 'conv');
      expect(weights.length).toBe(1 + 2 * 4 + 1 + 2 + 1);
      for (const w of weights) {
        const s = weightGradientShape(w.shape, batch * K);
        expect(matmulPlan(ctx.choices, s, { splitK: true }).split.splits, w.name).toBeGreaterThan(
          1,
        );
      }
      // ... and every second pass (theirs and the LayerNorms') is deferred to one
      // partials_reduce pass per backward list (the head's rows, the rest).
      expect(names.filter((n) => n.startsWith('matmul_split_k_reduce'))).toEqual([]);
      expect(names.filter((n) => n.startsWith('layernorm_param_reduce'))).toEqual([]);
      expect(names.filter((n) => n.startsWith('partials_reduce')).length).toBe(2);
      // ... and none of them would be on this device's own adapter if it is a fallback one.
      const own = (await testGpu()).choices;
      const patch = weightGradientShape([c.width, 3, c.patchSize, c.patchSize], batch * K);
      expect(matmulPlan(own, patch, { splitK: true }).split.splits > 1).toBe(
        !own.adapter.isFallbackAdapter,
      );

      const params = initParameters(c, 3);
      let seed = 3000;
      for (const [name, v] of params) {
        const noise = randomF32(v.length, ++seed, -0.3, 0.3);
        params.set(
          name,
          Float32Array.from(v, (x, i) => x + noise[i]),
        );
      }
      const g = c.imageSize / c.patchSize;
      const next = mulberry32(7);
      const inputs = {
        batch,
        images: randomF32(batch * 3 * c.imageSize * c.imageSize, 7, -2, 2),
        order: randomOrder(g, g, 7),
        prefixLengths: Array.from({ length: batch }, () => 1 + Math.floor(next() * (K - 1))),
      };
      model.uploadParameters(params);
      model.setInputs(inputs.images, inputs.order, inputs.prefixLengths);
      await model.forwardBackward();
      const grads = await model.downloadGradients();
      const ref = modelBackwardReference(c, params, inputs);
      let worst = { ratio: 0, name: '' };
      for (const [name, want] of ref.grads) {
        const got = grads.get(name) ?? new Float32Array(0);
        const ratio = worstRatio(
          got,
          want,
          mixedTolerance(want, GRAD_ATOL * maxAbs(want), GRAD_RTOL),
        );
        if (!(ratio <= worst.ratio)) worst = { ratio, name };
      }
      expect(worst.ratio, worst.name).toBeLessThanOrEqual(1);
      model.destroy();
    } finally {
      ctx.destroy();
    }
  }, 600_000);
});
