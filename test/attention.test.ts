import { ADAPTER_PROFILE_NAMES, adapterProfile } from '../src/gpu/adapterProfiles';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import {
  attentionBackward,
  attentionBlockSizes,
  attentionForward,
  attentionShape,
  attentionWorkgroupBytes,
  paddedHeadDim,
  prepareAttentionForward,
  type AttentionShape,
} from '../src/kernels/attention';
import type { AttentionBackwardKernel } from '../src/kernels/attentionPlan';
import {
  attentionBackwardErrorBound,
  attentionBackwardReference,
  attentionForwardErrorBound,
  attentionForwardReference,
  prefixAttends,
} from '../src/reference/attention';
import { checkGradient, weightedSum } from '../src/reference/gradcheck';
import { mulberry32, randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

/*
 * Tolerances. Every GPU result is compared element-wise with the float64 reference under a
 * first-order bound of its f32 rounding error, derived in src/reference/attention.ts:
 * scores err by γ_dh·Σ|q||k|/√dh + 2u|s| (u = 2⁻²⁴, any summation order), exp by
 * 3 + 2|x| ULP (WGSL's and Vulkan's guaranteed accuracy), and each error is propagated
 * through the softmax (∂o/∂s_j = p_j(v_j − o)) and the accumulations (γ_n·Σ|terms|). The
 * bounds are ~1e-6 relative (SwiftShader's errors come to 1–20 % of them), far below what a
 * wrong index, a dropped key or an off-by-one mask changes (≥ p_j ≈ 1/T); tests below show
 * those fail by more than 10× the bound.
 */

interface Case {
  name: string;
  batch: number;
  seqLen: number;
  heads: number;
  headDim: number;
  prefix: number[];
  /** qkv values are uniform in [−range, range). */
  range?: number;
}

/** AIM's pre-training prefix: uniform in {1, …, T − 1} per sample (1 when T = 1). */
function randomPrefixes(batch: number, seqLen: number, seed: number): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: batch }, () => 1 + Math.floor(next() * Math.max(1, seqLen - 1)));
}

/** A case named after its shape: B samples of T tokens, H heads of dh, prefix lengths S. */
function attentionCase(
  [batch, seqLen, heads, headDim]: [number, number, number, number],
  prefix: number[],
  note = '',
  range?: number,
): Case {
  const name = `B=${batch} T=${seqLen} H=${heads} dh=${headDim}, S = ${prefix.join(', ')}${note && ` (${note})`}`;
  return { name, batch, seqLen, heads, headDim, prefix, range };
}

function shapeOf(c: Case): AttentionShape {
  return { batch: c.batch, seqLen: c.seqLen, heads: c.heads, headDim: c.headDim };
}

function inputs(c: Case, seed: number) {
  const width = 3 * c.heads * c.headDim;
  const range = c.range ?? 2;
  return {
    qkv: randomF32(c.batch * c.seqLen * width, seed, -range, range),
    dOut: randomF32(c.batch * c.seqLen * c.heads * c.headDim, seed + 1),
  };
}

async function gpuForward(c: Case, qkvData: Float32Array) {
  const ctx = await testGpu();
  const qkv = Tensor.fromArray(
    ctx,
    [c.batch, c.seqLen, 3 * c.heads * c.headDim],
    'f32',
    qkvData,
    'qkv',
  );
  const prefixLengths = Tensor.fromArray(ctx, [c.batch], 'u32', c.prefix, 'prefix');
  const { out, lse } = await attentionForward(ctx, { qkv, prefixLengths }, { heads: c.heads });
  const result = { out: await out.download(), lse: await lse.download() };
  for (const t of [qkv, prefixLengths, out, lse]) t.destroy();
  return result;
}

async function checkForward(c: Case, seed: number) {
  const s = shapeOf(c);
  const { qkv } = inputs(c, seed);
  const got = await gpuForward(c, qkv);
  const want = attentionForwardReference(qkv, c.prefix, s);
  const rescales = Math.ceil(c.seqLen / attentionBlockSizes(c.headDim).forward.key);
  const bound = attentionForwardErrorBound(qkv, c.prefix, s, rescales);
  return {
    got,
    want,
    bound,
    out: worstRatio(got.out, want.out, (i) => bound.out[i]),
    lse: worstRatio(got.lse, want.lse, (i) => bound.lse[i]),
  };
}

const forwardCases: Case[] = [
  attentionCase([1, 1, 1, 8], [1], 'a single token'),
  attentionCase([3, 2, 2, 32], [1, 0, 2], '0: causal'),
  attentionCase([3, 17, 3, 8], [1, 16, 17], '1, K−1, K'),
  attentionCase([1, 64, 4, 32], [64], 'bidirectional'),
  attentionCase([3, 64, 1, 128], [1, 63, 64], '1, K−1, K'),
  attentionCase([3, 197, 2, 64], randomPrefixes(3, 197, 5), 'random'),
  attentionCase([1, 197, 1, 128], randomPrefixes(1, 197, 6), 'random'),
  attentionCase([1, 33, 3, 64], [1000], 'S > T: bidirectional'),
  attentionCase([3, 17, 2, 20], randomPrefixes(3, 17, 7), 'random; dh padded to 24'),
  attentionCase([1, 50, 1, 32], [10], 'peaked softmax, |qkv| < 4', 4),
];

describe('attention_forward.wgsl against the float64 reference', () => {
  forwardCases.forEach((c, n) => {
    it(c.name, async () => {
      const r = await checkForward(c, 100 + n);
      expect(r.out).toBeLessThanOrEqual(1);
      expect(r.lse).toBeLessThanOrEqual(1);
    });
  });

  it('the tolerance rejects a dropped key and an off-by-one prefix', async () => {
    const c = attentionCase([1, 64, 1, 32], [20]);
    const r = await checkForward(c, 7);
    expect(r.out).toBeLessThanOrEqual(1);
    // Query 63 ignoring key 40 (p ≈ 1/64): what a kernel losing one key in a block would do.
    const dropped = attentionForwardReference(
      inputs(c, 7).qkv,
      c.prefix,
      shapeOf(c),
      (_b, i, j) => prefixAttends(i, j, 20) && !(i === 63 && j === 40),
    );
    expect(worstRatio(r.got.out, dropped.out, (i) => r.bound.out[i])).toBeGreaterThan(10);
    expect(worstRatio(r.got.lse, dropped.lse, (i) => r.bound.lse[i])).toBeGreaterThan(10);
    // j ≤ S instead of j < S: one extra prefix key for the queries before it.
    const longer = attentionForwardReference(inputs(c, 7).qkv, [21], shapeOf(c));
    expect(worstRatio(r.got.out, longer.out, (i) => r.bound.out[i])).toBeGreaterThan(10);
  });
});

// Sample 0 has prefix 5, so key 12 is forbidden to its queries 0…11; sample 1 is bidirectional.
const maskCase = attentionCase([2, 17, 2, 8], [5, 17]);
const maskWidth = maskCase.heads * maskCase.headDim;

/** Offset of head h's dh values of token i, sample b, in a [B, T, parts·D] tensor. */
function headAt(parts: number, b: number, i: number, part: number, h: number): number {
  return (b * maskCase.seqLen + i) * parts * maskWidth + part * maskWidth + h * maskCase.headDim;
}

function headRow(data: Float32Array, parts: number, b: number, i: number, h: number): number[] {
  const at = headAt(parts, b, i, 0, h);
  return Array.from(data.subarray(at, at + maskCase.headDim));
}

/** qkv with key 12 and value 12 of head 1 changed in every sample. */
function perturbToken12(qkv: Float32Array): Float32Array {
  const perturbed = Float32Array.from(qkv);
  for (let b = 0; b < maskCase.batch; b++) {
    for (let d = 0; d < maskCase.headDim; d++) {
      perturbed[headAt(3, b, 12, 1, 1) + d] += 0.5;
      perturbed[headAt(3, b, 12, 2, 1) + d] -= 0.75;
    }
  }
  return perturbed;
}

describe('prefix-causal mask', () => {
  it('forward: a forbidden key/value changes nothing, bit-exact; an allowed one does', async () => {
    const { qkv } = inputs(maskCase, 31);
    const base = await gpuForward(maskCase, qkv);
    const after = await gpuForward(maskCase, perturbToken12(qkv));
    const lseAt = (i: number) => (0 * maskCase.heads + 1) * maskCase.seqLen + i;
    for (let i = 0; i < maskCase.seqLen; i++) {
      // Head 0 never sees the change.
      expect(headRow(after.out, 1, 0, i, 0)).toEqual(headRow(base.out, 1, 0, i, 0));
      if (i < 12) {
        expect(headRow(after.out, 1, 0, i, 1)).toEqual(headRow(base.out, 1, 0, i, 1));
        expect(after.lse[lseAt(i)]).toBe(base.lse[lseAt(i)]);
      } else {
        expect(headRow(after.out, 1, 0, i, 1)).not.toEqual(headRow(base.out, 1, 0, i, 1));
      }
      // The bidirectional sample: every query sees token 12.
      expect(headRow(after.out, 1, 1, i, 1)).not.toEqual(headRow(base.out, 1, 1, i, 1));
    }
    // A prefix key (3 < S = 5) is visible to query 0.
    const prefixKey = Float32Array.from(qkv);
    prefixKey[headAt(3, 0, 3, 1, 0)] += 0.5;
    const afterPrefix = await gpuForward(maskCase, prefixKey);
    expect(headRow(afterPrefix.out, 1, 0, 0, 0)).not.toEqual(headRow(base.out, 1, 0, 0, 0));
  });

  for (const backward of ['flash', 'short'] as const) {
    it(`backward (${backward}): a forbidden key/value leaves dQ of the queries it is hidden from, bit-exact`, async () => {
      const { qkv, dOut } = inputs(maskCase, 31);
      const base = await gpuBackward(maskCase, qkv, dOut, backward);
      const after = await gpuBackward(maskCase, perturbToken12(qkv), dOut, backward);
      for (let i = 0; i < maskCase.seqLen; i++) {
        const [was, now] = [headRow(base.got, 3, 0, i, 1), headRow(after.got, 3, 0, i, 1)];
        if (i < 12) expect(now).toEqual(was);
        else expect(now).not.toEqual(was);
        expect(headRow(after.got, 3, 1, i, 1)).not.toEqual(headRow(base.got, 3, 1, i, 1));
      }
    });
  }
});

/** The three-kernel backward unless told otherwise (the short one: attentionShort.test.ts). */
async function gpuBackward(
  c: Case,
  qkvData: Float32Array,
  dOutData: Float32Array,
  backward: AttentionBackwardKernel = 'flash',
) {
  const ctx = await testGpu();
  const s = shapeOf(c);
  const D = c.heads * c.headDim;
  // The backward is fed the f32-rounded exact forward results, so that its comparison does
  // not depend on the forward kernel (the bound accounts for that rounding).
  const fwd = attentionForwardReference(qkvData, c.prefix, s);
  const out32 = Float32Array.from(fwd.out);
  const lse32 = Float32Array.from(fwd.lse);
  const qkv = Tensor.fromArray(ctx, [c.batch, c.seqLen, 3 * D], 'f32', qkvData, 'qkv');
  const out = Tensor.fromArray(ctx, [c.batch, c.seqLen, D], 'f32', out32, 'out');
  const lse = Tensor.fromArray(ctx, [c.batch, c.heads, c.seqLen], 'f32', lse32, 'lse');
  const dOut = Tensor.fromArray(ctx, [c.batch, c.seqLen, D], 'f32', dOutData, 'dOut');
  const prefixLengths = Tensor.fromArray(ctx, [c.batch], 'u32', c.prefix, 'prefix');
  // Pre-fill dQkv with NaN: every element must be written.
  const dQkv = Tensor.fromArray(
    ctx,
    qkv.shape,
    'f32',
    new Float32Array(qkvData.length).fill(NaN),
    'dqkv',
  );
  const tensors = { qkv, out, lse, dOut, prefixLengths, dQkv };
  await attentionBackward(ctx, tensors, { heads: c.heads, backward });
  const got = await dQkv.download();
  for (const t of [qkv, out, lse, dOut, prefixLengths, dQkv]) t.destroy();
  return { got, out32, lse32 };
}

async function checkBackward(c: Case, seed: number) {
  const s = shapeOf(c);
  const { qkv, dOut } = inputs(c, seed);
  const { got, out32, lse32 } = await gpuBackward(c, qkv, dOut);
  const want = attentionBackwardReference(qkv, dOut, c.prefix, s);
  const bound = attentionBackwardErrorBound(qkv, dOut, out32, lse32, c.prefix, s);
  return { got, want, bound, qkv, dOut, ratio: worstRatio(got, want, (i) => bound[i]) };
}

describe('attention backward reference: finite differences', () => {
  const cases: Case[] = [
    attentionCase([2, 6, 2, 3], [1, 4]),
    attentionCase([1, 5, 1, 4], [5], 'bidirectional'),
  ];
  cases.forEach((c, n) => {
    it(c.name, () => {
      const s = shapeOf(c);
      const x = Float64Array.from(inputs(c, 50 + n).qkv);
      const w = Float64Array.from(inputs(c, 60 + n).dOut);
      const f = (v: Float64Array) => weightedSum(attentionForwardReference(v, c.prefix, s).out, w);
      const analytic = attentionBackwardReference(x, w, c.prefix, s);
      const result = checkGradient(f, x, analytic, { samples: x.length });
      expect(result.checked).toBe(x.length);
      expect(result.worstRelativeError).toBeLessThan(1e-6);
    });
  });
  it('the check fails for a wrong backward (the gradient of another mask)', () => {
    const c = cases[0];
    const s = shapeOf(c);
    const x = Float64Array.from(inputs(c, 50).qkv);
    const w = Float64Array.from(inputs(c, 60).dOut);
    const f = (v: Float64Array) => weightedSum(attentionForwardReference(v, c.prefix, s).out, w);
    const wrong = attentionBackwardReference(x, w, [2, 4], s); // the mask of another prefix
    expect(checkGradient(f, x, wrong, { samples: x.length }).worstRelativeError).toBeGreaterThan(
      0.01,
    );
  });
});

const backwardCases: Case[] = [
  attentionCase([1, 1, 1, 8], [1], 'a single token'),
  attentionCase([3, 2, 4, 20], [0, 1, 2], 'dh padded to 24'),
  attentionCase([3, 17, 2, 32], [1, 16, 17], '1, K−1, K'),
  attentionCase([1, 64, 3, 64], randomPrefixes(1, 64, 8), 'random'),
  attentionCase([3, 197, 1, 32], randomPrefixes(3, 197, 9), 'random'),
  attentionCase([1, 197, 1, 64], [197], 'bidirectional'),
  attentionCase([3, 37, 2, 128], [1, 36, 11], '1, K−1, random'),
  attentionCase([1, 17, 2, 8], [3], 'peaked softmax, |qkv| < 4', 4),
];

describe('attention backward WGSL against the float64 reference', () => {
  backwardCases.forEach((c, n) => {
    it(c.name, async () => {
      expect((await checkBackward(c, 200 + n)).ratio).toBeLessThanOrEqual(1);
    });
  });

  it('the tolerance rejects the gradient of a mask with an off-by-one prefix', async () => {
    const c = attentionCase([1, 40, 1, 32], [12]);
    const r = await checkBackward(c, 9);
    expect(r.ratio).toBeLessThanOrEqual(1);
    const longer = attentionBackwardReference(r.qkv, r.dOut, [13], shapeOf(c));
    expect(worstRatio(r.got, longer, (i) => r.bound[i])).toBeGreaterThan(10);
  });
});

describe('attention wrappers', () => {
  it('derives the shape and rejects bad ones with clear messages', () => {
    expect(attentionShape([2, 5, 3 * 4 * 16], 4)).toEqual({
      batch: 2,
      seqLen: 5,
      heads: 4,
      headDim: 16,
    });
    expect(() => attentionShape([5, 48], 1)).toThrow(/expected \[batch, tokens, 3·dim\]/);
    expect(() => attentionShape([1, 5, 50], 2)).toThrow(/not 3 × heads/);
    expect(() => attentionShape([1, 5, 3 * 136], 1)).toThrow(/head dim 136 exceeds/);
    expect(() => attentionShape([0, 5, 48], 1)).toThrow(/empty dimension/);
  });

  it('rejects mismatched tensors', async () => {
    const ctx = await testGpu();
    const qkv = Tensor.empty(ctx, [2, 5, 48], 'f32', 'qkv');
    const prefix = Tensor.empty(ctx, [2], 'u32', 'prefix');
    const prefixF32 = Tensor.empty(ctx, [2], 'f32', 'prefix f32');
    const out = Tensor.empty(ctx, [2, 5, 16], 'f32', 'out');
    const lse = Tensor.empty(ctx, [2, 2, 5], 'f32', 'lse');
    const heads = { heads: 2 };
    await expect(
      prepareAttentionForward(ctx, { qkv, prefixLengths: prefix, out: lse, lse }, heads),
    ).rejects.toThrow(/out is \[2,2,5\]/);
    await expect(
      prepareAttentionForward(ctx, { qkv, prefixLengths: prefix, out, lse: out }, { heads: 1 }),
    ).rejects.toThrow(/lse is/);
    await expect(
      prepareAttentionForward(
        ctx,
        { qkv, prefixLengths: prefixF32 as unknown as Tensor<'u32'>, out, lse },
        heads,
      ),
    ).rejects.toThrow(/prefixLengths must be u32/);
    await expect(
      prepareAttentionForward(ctx, { qkv, prefixLengths: prefix, out, lse }, { heads: 3 }),
    ).rejects.toThrow(/not 3 × heads/);
    for (const t of [qkv, prefix, prefixF32, out, lse]) t.destroy();
  });

  it('every head dim 1…128 fits 16 KiB of workgroup memory and the register tiles', () => {
    // 16 KiB is WebGPU's guaranteed minimum, so it fits every adapter profile's limit too.
    for (const name of ADAPTER_PROFILE_NAMES)
      expect(adapterProfile(name).limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(
        16384,
      );
    for (let dh = 1; dh <= 128; dh++) {
      const blocks = attentionBlockSizes(dh);
      const dims = paddedHeadDim(dh) / 8;
      for (const kernel of ['forward', 'dkdv', 'dq'] as const) {
        expect(attentionWorkgroupBytes(kernel, dh, blocks[kernel])).toBeLessThanOrEqual(16384);
        const rows = Math.ceil(blocks[kernel].query / 8);
        const keys = Math.ceil(blocks[kernel].key / 8);
        // The shaders' register arrays: 4 rows, 4 keys, 16 scores, 32 accumulators, 16 dims.
        expect(rows).toBeLessThanOrEqual(4);
        expect(keys).toBeLessThanOrEqual(4);
        expect(rows * keys).toBeLessThanOrEqual(16);
        expect((kernel === 'dkdv' ? keys : rows) * dims).toBeLessThanOrEqual(32);
        expect(dims).toBeLessThanOrEqual(16);
      }
    }
  });
});
