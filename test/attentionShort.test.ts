/*
 * The one-dispatch attention backward for short sequences (attention_backward_short.wgsl)
 * against the float64 reference, under the same per-element f32 bound as the three-kernel
 * path (src/reference/attention.ts; see test/attention.test.ts), and against that path.
 */
import { describe, expect, it } from 'vitest';
import { KERNEL_CASES } from '../src/diagnostics/kernelCases';
import { adapterProfile, ADAPTER_PROFILE_NAMES } from '../src/gpu/adapterProfiles';
import { runOnce } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import { prepareAttentionBackward, type AttentionShape } from '../src/kernels/attention';
import { prepareAttentionBackwardShort } from '../src/kernels/attentionBackwardShort';
import {
  chooseAttentionBackward,
  shortAttentionKeyBlock,
  shortAttentionWorkgroupBytes,
  type AttentionBackwardKernel,
} from '../src/kernels/attentionPlan';
import {
  attentionBackwardErrorBound,
  attentionBackwardReference,
  attentionForwardReference,
} from '../src/reference/attention';
import { checkGradient, weightedSum } from '../src/reference/gradcheck';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

type Dims = [batch: number, seqLen: number, heads: number, headDim: number];

interface Case {
  shape: AttentionShape;
  prefix: number[];
  name: string;
}

function shortCase([batch, seqLen, heads, headDim]: Dims, prefix: number[], note = ''): Case {
  const name = `B=${batch} T=${seqLen} H=${heads} dh=${headDim}, S = ${prefix.join(', ')}${note && ` (${note})`}`;
  return { shape: { batch, seqLen, heads, headDim }, prefix, name };
}

function inputs({ shape: s }: Case, seed: number) {
  const D = s.heads * s.headDim;
  return {
    qkv: randomF32(s.batch * s.seqLen * 3 * D, seed, -2, 2),
    dOut: randomF32(s.batch * s.seqLen * D, seed + 1),
  };
}

/**
 * dQkv on the GPU from the f32-rounded float64 forward: through `prepareAttentionBackward`
 * with `backward`, or straight through the short kernel with a given key block.
 */
async function gpuBackward(
  c: Case,
  qkvData: Float32Array,
  dOutData: Float32Array,
  via: AttentionBackwardKernel | { keyBlock: number },
) {
  const ctx = await testGpu();
  const s = c.shape;
  const D = s.heads * s.headDim;
  const fwd = attentionForwardReference(qkvData, c.prefix, s);
  const out32 = Float32Array.from(fwd.out);
  const lse32 = Float32Array.from(fwd.lse);
  const t = {
    qkv: Tensor.fromArray(ctx, [s.batch, s.seqLen, 3 * D], 'f32', qkvData, 'qkv'),
    out: Tensor.fromArray(ctx, [s.batch, s.seqLen, D], 'f32', out32, 'out'),
    lse: Tensor.fromArray(ctx, [s.batch, s.heads, s.seqLen], 'f32', lse32, 'lse'),
    dOut: Tensor.fromArray(ctx, [s.batch, s.seqLen, D], 'f32', dOutData, 'dOut'),
    prefixLengths: Tensor.fromArray(ctx, [s.batch], 'u32', c.prefix, 'prefix'),
    // Pre-filled with NaN: every element must be written.
    dQkv: Tensor.fromArray(
      ctx,
      [s.batch, s.seqLen, 3 * D],
      'f32',
      new Float32Array(qkvData.length).fill(NaN),
      'dqkv',
    ),
  };
  const dispatches =
    typeof via === 'string'
      ? await prepareAttentionBackward(ctx, t, { heads: s.heads, backward: via })
      : [
          await prepareAttentionBackwardShort(ctx, t, s, {
            keyBlock: via.keyBlock,
            workgroupBytes: shortAttentionWorkgroupBytes(s.headDim, via.keyBlock),
          }),
        ];
  await runOnce(ctx, dispatches);
  const got = await t.dQkv.download();
  for (const x of Object.values(t)) x.destroy();
  return { got, out32, lse32, dispatches: dispatches.length };
}

async function check(c: Case, seed: number, via: AttentionBackwardKernel | { keyBlock: number }) {
  const { qkv, dOut } = inputs(c, seed);
  const r = await gpuBackward(c, qkv, dOut, via);
  const want = attentionBackwardReference(qkv, dOut, c.prefix, c.shape);
  const bound = attentionBackwardErrorBound(qkv, dOut, r.out32, r.lse32, c.prefix, c.shape);
  return { ...r, qkv, dOut, want, bound, ratio: worstRatio(r.got, want, (i) => bound[i]) };
}

// Prefix 1 is causal, T − 1 the longest AIM draws, T (or more) bidirectional, 0 causal.
const cases: Case[] = [
  shortCase([1, 1, 1, 8], [1], 'a single token'),
  shortCase([2, 1, 3, 32], [0, 5], 'a single token, S > T'),
  shortCase([3, 2, 2, 32], [0, 1, 2], 'causal, 1, bidirectional'),
  shortCase([3, 7, 3, 20], [1, 6, 7], 'dh padded to 24'),
  shortCase([2, 63, 2, 32], [1, 62], '1, T−1'),
  shortCase([3, 64, 2, 32], [1, 63, 64], '1, T−1, bidirectional'),
  shortCase([2, 64, 1, 64], [1, 63], '1, T−1'),
  shortCase([2, 63, 3, 64], [0, 40], 'causal, 40'),
  shortCase([2, 17, 4, 3], [9, 16], 'dh 3'),
  shortCase([1, 64, 6, 32], [37], "aim-tiny's shape, one sample"),
];

describe('attention_backward_short.wgsl against the float64 reference', () => {
  cases.forEach((c, n) => {
    it(`${c.name}: the adapter's key block`, async () => {
      const r = await check(c, 300 + n, 'short');
      expect(r.dispatches).toBe(1);
      expect(r.ratio).toBeLessThanOrEqual(1);
    });
  });

  // Several key blocks: dQ accumulates in place, the prefix decides which blocks a row sees.
  const blockCases: [Case, number][] = [
    [shortCase([2, 64, 2, 32], [1, 63]), 8],
    [shortCase([3, 63, 1, 32], [0, 20, 63]), 16],
    [shortCase([2, 7, 2, 32], [1, 6]), 8],
    [shortCase([2, 64, 2, 64], [33, 31]), 16],
    [shortCase([2, 40, 1, 32], [12, 40]), 32],
    [shortCase([1, 64, 1, 16], [64]), 64],
  ];
  blockCases.forEach(([c, keyBlock], n) => {
    it(`${c.name}: key block ${keyBlock}`, async () => {
      const r = await check(c, 400 + n, { keyBlock });
      expect(r.ratio).toBeLessThanOrEqual(1);
    });
  });

  it('matches the three-kernel path within twice the bound (each is within it)', async () => {
    for (const [n, c] of [cases[3], cases[5], blockCases[3][0]].entries()) {
      const short = await check(c, 500 + n, 'short');
      const flash = await gpuBackward(c, short.qkv, short.dOut, 'flash');
      expect(flash.dispatches).toBe(3);
      expect(worstRatio(flash.got, short.want, (i) => short.bound[i])).toBeLessThanOrEqual(1);
      expect(worstRatio(short.got, flash.got, (i) => 2 * short.bound[i])).toBeLessThanOrEqual(1);
    }
  });

  it('passes a finite-difference check of its own gradient', async () => {
    for (const [n, c] of [
      shortCase([2, 7, 2, 8], [1, 6]),
      shortCase([1, 9, 1, 12], [9], 'bidirectional'),
    ].entries()) {
      const { qkv, dOut } = inputs(c, 600 + n);
      const { got } = await gpuBackward(c, qkv, dOut, { keyBlock: 8 });
      const w = Float64Array.from(dOut);
      const f = (v: Float64Array) =>
        weightedSum(attentionForwardReference(v, c.prefix, c.shape).out, w);
      const result = checkGradient(f, Float64Array.from(qkv), got, {
        samples: qkv.length,
        floor: 1e-3,
      });
      expect(result.checked).toBe(qkv.length);
      // f32 gradients: ~1e-6 relative; a wrong term or mask is O(1).
      expect(result.worstRelativeError).toBeLessThan(1e-3);
    }
  });

  it('the tolerance and the finite differences reject the gradient of another mask', async () => {
    const c = shortCase([1, 40, 2, 32], [12]);
    const r = await check(c, 9, 'short');
    expect(r.ratio).toBeLessThanOrEqual(1);
    // j ≤ S instead of j < S: one more prefix key.
    const longer = attentionBackwardReference(r.qkv, r.dOut, [13], c.shape);
    expect(worstRatio(r.got, longer, (i) => r.bound[i])).toBeGreaterThan(10);
    // The same finite-difference check fails for the gradient of another mask.
    const small = shortCase([1, 7, 1, 8], [3]);
    const x = inputs(small, 10);
    const { got } = await gpuBackward(small, x.qkv, x.dOut, 'short');
    const f = (v: Float64Array) =>
      weightedSum(attentionForwardReference(v, [4], small.shape).out, Float64Array.from(x.dOut));
    const wrong = checkGradient(f, Float64Array.from(x.qkv), got, {
      samples: x.qkv.length,
      floor: 1e-3,
    });
    expect(wrong.worstRelativeError).toBeGreaterThan(0.01);
  });
});

describe('choosing the attention backward', () => {
  const shape = (seqLen: number, headDim: number): AttentionShape => ({
    batch: 256,
    seqLen,
    heads: 6,
    headDim,
  });

  it('takes T ≤ 64 and dh ≤ 64 on every adapter profile, with fitting blocks', () => {
    for (const name of ADAPTER_PROFILE_NAMES) {
      const caps = adapterProfile(name);
      for (const seqLen of [1, 2, 7, 63, 64]) {
        for (let dh = 1; dh <= 64; dh++) {
          const plan = chooseAttentionBackward(caps, shape(seqLen, dh));
          if (plan.kernel !== 'short') throw new Error(`${name} T=${seqLen} dh=${dh}: flash`);
          expect(plan.workgroupBytes).toBeLessThanOrEqual(
            caps.limits.maxComputeWorkgroupStorageSize,
          );
          expect(plan.keyBlock % 8).toBe(0);
          expect(plan.keyBlock).toBeLessThanOrEqual(Math.max(8, Math.ceil(seqLen / 8) * 8));
          // The shader's register arrays: 32 dK (and dV) values, 8 keys, 8 dQ dims.
          expect((plan.keyBlock / 8) * Math.ceil(dh / 8)).toBeLessThanOrEqual(32);
        }
      }
    }
  });

  it("covers AIM's T = 64 with one key block on the H100 at dh 32, and fits 16 KiB", () => {
    const h100 = adapterProfile('h100');
    expect(shortAttentionKeyBlock(h100, shape(64, 32))).toBe(64);
    expect(shortAttentionKeyBlock(h100, shape(64, 64))).toBe(32);
    expect(shortAttentionKeyBlock(h100, shape(17, 32))).toBe(24);
    const minimal = { ...h100, limits: { ...h100.limits, maxComputeWorkgroupStorageSize: 16384 } };
    expect(shortAttentionKeyBlock(minimal, shape(64, 32))).toBe(32);
    expect(shortAttentionKeyBlock(minimal, shape(64, 64))).toBe(16);
    for (let dh = 1; dh <= 64; dh++) {
      const k = shortAttentionKeyBlock(minimal, shape(64, dh));
      expect(shortAttentionWorkgroupBytes(dh, k)).toBeLessThanOrEqual(16384);
    }
  });

  it('falls back to the three kernels past T = 64 or dh = 64, and refuses to force them short', () => {
    const h100 = adapterProfile('h100');
    expect(chooseAttentionBackward(h100, shape(65, 32))).toEqual({ kernel: 'flash' });
    expect(chooseAttentionBackward(h100, shape(64, 65))).toEqual({ kernel: 'flash' });
    expect(chooseAttentionBackward(h100, shape(64, 32), 'flash')).toEqual({ kernel: 'flash' });
    expect(() => chooseAttentionBackward(h100, shape(197, 32), 'short')).toThrow(
      /sequence length 197 exceeds its maximum 64/,
    );
    expect(() => chooseAttentionBackward(h100, shape(16, 128), 'short')).toThrow(
      /head dim 128 exceeds its maximum 64/,
    );
  });
});

describe('the attention browser kernel cases, run here', () => {
  for (const c of KERNEL_CASES.filter((k) => k.name.startsWith('attention'))) {
    it(c.name, async () => {
      const inputs = c.inputs();
      expect(c.grade(inputs, await c.run(await testGpu(), inputs))).toBeLessThanOrEqual(1);
    });
  }
});
