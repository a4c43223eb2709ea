/**
 * The float64 model reference (src/model/reference*.ts) and the parameter table
 * (src/model/params.ts): the table matches ml-aim's keys and config.ts's counts, the
 * initialiser is seeded and has the right statistics, and the reference backward is the
 * gradient of the reference forward (finite differences on sampled coordinates of every
 * parameter tensor, both head variants, no head, raw targets, random order, random
 * prefixes, odd batch).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { numPatches, parameterCount, PRESETS, type AimConfig } from '../src/model/config';
import { randomOrder } from '../src/model/orderings';
import {
  checkParameterValues,
  initParameters,
  paramSize,
  paramSpecs,
  trunkParamSpecs,
} from '../src/model/params';
import {
  bidirectionalPrefix,
  modelForwardReference,
  trunkForwardReference,
  type ModelInputs,
} from '../src/model/reference';
import { modelBackwardReference } from '../src/model/referenceBackward';
import { checkGradient } from '../src/reference/gradcheck';
import { mulberry32, randomF32 } from '../src/reference/random';
import { FIXTURE_DIR } from './fixtures';
import { tinyConfig } from './modelConfigs';

function randomInputs(c: AimConfig, batch: number, seed: number): ModelInputs {
  const K = numPatches(c);
  const next = mulberry32(seed);
  const g = c.imageSize / c.patchSize;
  return {
    batch,
    images: randomF32(batch * 3 * c.imageSize * c.imageSize, seed, -2, 2),
    order: randomOrder(g, g, seed),
    // AIM's prefix: uniform in {1, …, K − 1}.
    prefixLengths: Array.from({ length: batch }, () => 1 + Math.floor(next() * (K - 1))),
  };
}

/**
 * Parameters perturbed away from the initialiser's ones/zeros, so that every LayerNorm
 * weight and bias matters and a gradient taken at the wrong place shows up.
 */
function randomParams(c: AimConfig, seed: number): Map<string, Float64Array> {
  const init = initParameters(c, seed);
  const out = new Map<string, Float64Array>();
  let s = seed;
  for (const [name, v] of init) {
    const noise = randomF32(v.length, ++s, -0.3, 0.3);
    out.set(
      name,
      Float64Array.from(v, (x, i) => x + noise[i]),
    );
  }
  return out;
}

describe('parameter table', () => {
  it('ml-aim trunk keys and shapes: exactly those of the ml-aim fixture state dict', () => {
    const fixtureConfig = JSON.parse(readFileSync(`${FIXTURE_DIR}/config.json`, 'utf8')) as {
      keys: string[];
    };
    const c: AimConfig = { ...PRESETS['aim-micro'], imageSize: 32, width: 64, depth: 4, heads: 4 };
    const trunkKeys = trunkParamSpecs(c)
      .map((s) => s.name)
      .sort();
    const fixtureTrunkKeys = fixtureConfig.keys.filter((k) => !k.startsWith('head.')).sort();
    expect(trunkKeys).toEqual(fixtureTrunkKeys);
    const qkv = trunkParamSpecs(c).find((s) => s.name === 'trunk.blocks.3.attn.qkv.weight')!;
    expect(qkv.shape).toEqual([192, 64]);
    const proj = trunkParamSpecs(c).find((s) => s.name === 'preprocessor.patchifier.proj.weight')!;
    expect(proj.shape).toEqual([64, 3, 4, 4]);
  });

  it("sizes add up to config.ts's parameterCount, for both head variants and every preset", () => {
    for (const base of Object.values(PRESETS)) {
      for (const extraNormTerm of [false, true]) {
        const c = { ...base, head: { ...base.head, extraNormTerm } };
        const specs = paramSpecs(c);
        const trunk = trunkParamSpecs(c).reduce((n, s) => n + paramSize(s), 0);
        const total = specs.reduce((n, s) => n + paramSize(s), 0);
        expect({ trunk, total }).toEqual({
          trunk: parameterCount(c).trunk,
          total: parameterCount(c).total,
        });
        expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
      }
    }
  });

  it('head none: only head.proj_out [p·p·3, D] and its bias, counted by parameterCount', () => {
    for (const base of [PRESETS['aim-micro'], PRESETS['aim-tiny'], tinyConfig(true)]) {
      const c: AimConfig = { ...base, width: 48, heads: 2, head: { ...base.head, kind: 'none' } };
      const head = paramSpecs(c).filter((s) => s.part === 'head');
      const P = base.patchSize ** 2 * 3;
      expect(head.map((s) => [s.name, s.shape])).toEqual([
        ['head.proj_out.weight', [P, 48]],
        ['head.proj_out.bias', [P]],
      ]);
      const total = paramSpecs(c).reduce((n, s) => n + paramSize(s), 0);
      expect(total).toBe(parameterCount(c).total);
      expect(parameterCount(c).head).toBe(48 * P + P);
      // The trunk is the same whichever head follows it.
      expect(trunkParamSpecs(c)).toEqual(trunkParamSpecs({ ...c, head: base.head }));
    }
  });

  it('custom trunk width and depth and head width: the table follows them', () => {
    const c: AimConfig = {
      ...PRESETS['aim-tiny'],
      width: 48,
      depth: 2,
      heads: 3,
      head: { ...PRESETS['aim-tiny'].head, width: 40 },
    };
    const specs = paramSpecs(c);
    expect(specs.filter((s) => s.name.endsWith('.attn.qkv.weight')).map((s) => s.shape)).toEqual([
      [144, 48],
      [144, 48],
    ]);
    expect(specs.find((s) => s.name === 'head.proj_in.weight')!.shape).toEqual([40, 48]);
    expect(specs.find((s) => s.name === 'head.blocks.0.mlp.fc1.weight')!.shape).toEqual([160, 40]);
    expect(specs.reduce((n, s) => n + paramSize(s), 0)).toBe(parameterCount(c).total);
  });

  it('weight decay applies to Linear/conv weights only', () => {
    const specs = paramSpecs(tinyConfig(true));
    for (const s of specs) {
      const isWeightMatrix = s.shape.length >= 2;
      expect(s.decay, s.name).toBe(isWeightMatrix);
      if (!isWeightMatrix) expect(s.name).toMatch(/(bias|norm[^.]*\.weight)$/);
    }
  });

  it('the initialiser is seeded, per name, and xavier-uniform / ones / zeros', () => {
    const c = PRESETS['aim-micro'];
    const a = initParameters(c, 7);
    const b = initParameters(c, 7);
    const other = initParameters(c, 8);
    expect(checkParameterValues(paramSpecs(c), a)).toEqual([]);
    for (const [name, v] of a) expect(b.get(name), name).toEqual(v);
    expect(other.get('trunk.blocks.0.attn.qkv.weight')).not.toEqual(
      a.get('trunk.blocks.0.attn.qkv.weight'),
    );
    // A different head does not change the trunk's initial values (streams keyed by name).
    const deeper = initParameters({ ...c, head: { ...c.head, depth: 3 } }, 7);
    expect(deeper.get('trunk.blocks.1.mlp.fc2.weight')).toEqual(
      a.get('trunk.blocks.1.mlp.fc2.weight'),
    );
    expect(a.get('trunk.blocks.0.norm_1.weight')!.every((x) => x === 1)).toBe(true);
    expect(a.get('head.proj_out.bias')!.every((x) => x === 0)).toBe(true);
    // xavier_uniform: |w| < √(6/(fan_in + fan_out)) and variance 2/(fan_in + fan_out)
    // (the patch conv viewed as [D, 3pp]: fans 48 and 64). With n values the sample variance
    // is within ~3·√(2/n)·σ² ≈ 10 % (n = 3072) of it.
    for (const [name, fanIn, fanOut] of [
      ['preprocessor.patchifier.proj.weight', 48, 64],
      // q, k and v are three [D, D] layers (ml-aim's), not one [3D, D] matrix.
      ['trunk.blocks.0.attn.qkv.weight', 64, 64],
      ['head.blocks.0.mlp.fc1.weight', 64, 256],
    ] as const) {
      const w = a.get(name)!;
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      expect(Math.max(...w.map(Math.abs)), name).toBeLessThan(bound);
      const variance = w.reduce((s, x) => s + x * x, 0) / w.length;
      expect(variance / (2 / (fanIn + fanOut)), name).toBeGreaterThan(0.9);
      expect(variance / (2 / (fanIn + fanOut)), name).toBeLessThan(1.1);
    }
  });

  it('checkParameterValues names missing, unknown and mis-sized tensors', () => {
    const c = tinyConfig(false);
    const values = initParameters(c, 1);
    values.delete('head.norm.bias');
    values.set('head.bogus', new Float32Array(1));
    values.set('trunk.blocks.0.norm_1.weight', new Float32Array(3));
    expect(checkParameterValues(paramSpecs(c), values)).toEqual([
      'trunk.blocks.0.norm_1.weight has 3 values, expected 8 [8]',
      'missing parameter head.norm.bias',
      'unknown parameter head.bogus',
    ]);
  });
});

describe('float64 model reference', () => {
  it('forward: shapes, finite loss = mean of counted per-position losses, bidirectional trunk', () => {
    const c = tinyConfig(false);
    const inputs = randomInputs(c, 3, 11);
    const params = randomParams(c, 3);
    const f = modelForwardReference(c, params, inputs);
    const K = numPatches(c);
    expect(f.perPosition.length).toBe(3 * K);
    expect(f.pred.length).toBe(3 * K * 48);
    let counted = 0;
    let sum = 0;
    for (let b = 0; b < 3; b++)
      for (let i = 0; i < K; i++) {
        const isCounted = i + 1 >= inputs.prefixLengths[b] && i + 1 < K;
        if (isCounted) counted++;
        else expect(f.perPosition[b * K + i]).toBe(0);
        sum += f.perPosition[b * K + i];
      }
    expect(f.loss).toBeCloseTo(sum / counted, 14);
    expect(Number.isFinite(f.loss)).toBe(true);
    // A bidirectional trunk differs from the prefix-causal one (the mask is applied) but
    // agrees on the preprocessor's tokens.
    const bi = trunkForwardReference(c, params, {
      ...inputs,
      prefixLengths: bidirectionalPrefix(c, 3),
    });
    expect(bi.tokens).toEqual(f.trunk.tokens);
    expect(bi.blocks[0].output).not.toEqual(f.trunk.blocks[0].output);
  });

  // Odd sizes: 3×3 = 9 tokens, width 12 in 3 heads, one block, head depth 0, a batch of 1.
  const awkward: AimConfig = {
    ...tinyConfig(false),
    imageSize: 12,
    width: 12,
    heads: 3,
    depth: 1,
    head: { width: 12, depth: 0, extraNormTerm: false },
  };
  // The paper's Table 3e "no head" and Table 3a raw targets, alone and together.
  const noHead: AimConfig = {
    ...tinyConfig(false),
    head: { ...tinyConfig(false).head, kind: 'none' },
  };
  for (const [label, c, batch, seed] of [
    ['extraNormTerm false, B = 3', tinyConfig(false), 3, 1],
    ['extraNormTerm true, B = 3', tinyConfig(true), 3, 2],
    ['K = 9, D = 12, 3 heads, head depth 0, B = 1', awkward, 1, 3],
    ['head none, B = 3', noHead, 3, 4],
    [
      'head none, raw targets, K = 9, D = 12, B = 2',
      { ...awkward, head: { ...awkward.head, kind: 'none' }, targets: 'raw' },
      2,
      5,
    ],
    [
      'MLP head, raw targets, extraNormTerm true, B = 3',
      { ...tinyConfig(true), targets: 'raw' },
      3,
      6,
    ],
  ] as const) {
    it(`backward = finite differences of the forward, every parameter tensor (${label})`, () => {
      const inputs = randomInputs(c, batch, 20 + seed);
      const params = randomParams(c, seed);
      const { grads } = modelBackwardReference(c, params, inputs);
      expect([...grads.keys()].sort()).toEqual(
        paramSpecs(c)
          .map((s) => s.name)
          .sort(),
      );
      let worst = 0;
      let worstName = '';
      for (const spec of paramSpecs(c)) {
        const x = Float64Array.from(params.get(spec.name)!);
        const working = new Map(params);
        working.set(spec.name, x);
        // f reads `x` through the map, so checkGradient's in-place perturbations apply.
        const f = () => modelForwardReference(c, working, inputs).loss;
        const analytic = grads.get(spec.name)!;
        // 6 random coordinates per tensor (all of the small ones): ~250 forwards in all.
        const r = checkGradient(f, x, analytic, {
          samples: 6,
          seed: paramSize(spec),
          floor: 1e-4,
        });
        if (r.worstRelativeError > worst) {
          worst = r.worstRelativeError;
          worstName = spec.name;
        }
      }
      /*
       * Central differences with h = 1e-6 in float64 on a loss of O(1): rounding
       * ~1e-16/1e-6 = 1e-10 and truncation ~h²·f''' ≈ 1e-12 absolute. Errors are taken
       * relative to max(|analytic| + |numeric|, 1e-4), so they stay ≲ 1e-6 for any correct
       * coordinate (a gradient below 1e-4 is judged by its absolute error, ≲ 1e-10 / 1e-4),
       * while a wrong or missing term in a gradient of 1e-4 or more gives O(1).
       */
      console.log(`model reference gradcheck: worst ${worst.toExponential(2)} at ${worstName}`);
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it('head none: pred = post_trunk_norm(trunk)·W_outᵀ + b_out, raw targets: the plain MSE', () => {
    const c: AimConfig = { ...noHead, targets: 'raw' };
    const inputs = randomInputs(c, 2, 41);
    const params = randomParams(c, 12);
    const f = modelForwardReference(c, params, inputs);
    expect(f.mlpHead).toBeUndefined();
    const K = numPatches(c);
    const w = params.get('head.proj_out.weight')!;
    const bias = params.get('head.proj_out.bias')!;
    const z = f.postNorm.y;
    for (const [row, j] of [
      [0, 0],
      [2 * K - 1, 47],
      [5, 20],
    ]) {
      let want = bias[j];
      for (let d = 0; d < c.width; d++) want += z[row * c.width + d] * w[j * c.width + d];
      expect(f.pred[row * 48 + j]).toBeCloseTo(want, 12);
    }
    let sum = 0;
    let counted = 0;
    for (let b = 0; b < 2; b++)
      for (let i = inputs.prefixLengths[b] - 1; i < K - 1; i++) {
        const row = b * K + i;
        let e = 0;
        for (let j = 0; j < 48; j++)
          e += (f.pred[row * 48 + j] - f.targets[(row + 1) * 48 + j]) ** 2;
        sum += e / 48;
        counted++;
      }
    expect(f.loss).toBeCloseTo(sum / counted, 12);
    // The same model with normalised targets has another loss.
    expect(
      modelForwardReference({ ...c, targets: 'normalized' }, params, inputs).loss,
    ).not.toBeCloseTo(f.loss, 3);
  });

  it('the check can fail: a gradient taken against the wrong prefix is caught', () => {
    const c = tinyConfig(false);
    const inputs = { ...randomInputs(c, 3, 31), prefixLengths: [3, 2, 3] };
    const params = randomParams(c, 9);
    // The backward of a different mask (every sample fully causal, S = 1).
    const wrong = modelBackwardReference(c, params, {
      ...inputs,
      prefixLengths: [1, 1, 1],
    }).grads;
    const name = 'trunk.blocks.0.attn.qkv.weight';
    const x = Float64Array.from(params.get(name)!);
    const working = new Map(params);
    working.set(name, x);
    const f = () => modelForwardReference(c, working, inputs).loss;
    const r = checkGradient(f, x, wrong.get(name)!, { samples: 64 });
    expect(r.worstRelativeError).toBeGreaterThan(1e-2);
  });
});
