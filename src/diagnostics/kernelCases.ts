/**
 * Kernel cases that run anywhere a GpuContext exists. The browser tests ask the Web Worker
 * to run each case and return raw outputs, then compute the float64 reference in the test's
 * own Node process and compare — so a kernel that is wrong only inside Chromium (a different
 * WGSL compiler path than Dawn for Node) is caught, and the browser under test never grades
 * itself. The Node tests (test/*.test.ts) cover many more shapes.
 */
import type { GpuContext } from '../gpu/context';
import { Tensor } from '../gpu/tensor';
import {
  epilogueReference,
  gammaF32,
  matmulAbsReference,
  matmulReference,
} from '../reference/matmul';
import { randomF32 } from '../reference/random';
import { worstRatio } from '../reference/compare';
import {
  attentionBackwardErrorBound,
  attentionBackwardReference,
  attentionForwardErrorBound,
  attentionForwardReference,
} from '../reference/attention';
import { patchMseLossBackwardReference, patchMseLossReference } from '../reference/patchMseLoss';
import { attentionBackward, attentionBlockSizes, attentionForward } from '../kernels/attention';
import type { AttentionBackwardKernel } from '../kernels/attentionPlan';
import { matmul, matmulShape, type MatmulOptions } from '../kernels/matmul';
import { preparePatchMseLoss } from '../kernels/patchMseLoss';
import {
  layerNormBackward,
  layerNormForward,
  layerNormReductionDepth,
  type LayerNormVariant,
} from '../kernels/layernorm';
import {
  layerNormBackwardReference,
  layerNormForwardErrorBounds,
  layerNormReference,
} from '../reference/layernorm';
import { runOnce } from '../gpu/dispatch';
import { readBackAndFree } from './readBack';
import { gatheredPatchMseLossCase, gatherRowsCase } from './headRowCases';
import { augmentCase } from './augmentCases';
import { optimizerArenaCase } from './optimizerCases';
import { partialsReduceCase } from './partialsReduceCases';
import { matmulGroupedCase } from './matmulGroupedCases';

export type CaseData = Record<string, number[]>;

export interface KernelCase {
  name: string;
  /** Deterministic inputs. */
  inputs: () => CaseData;
  /** Runs the kernel(s) on the GPU and returns the outputs. */
  run: (ctx: GpuContext, inputs: CaseData) => Promise<CaseData>;
  /** max error / tolerance over all outputs (≤ 1 passes), computed against float64. */
  grade: (inputs: CaseData, outputs: CaseData) => number;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function matmulCase(
  name: string,
  aShape: number[],
  bShape: number[],
  seed: number,
  opts: Pick<MatmulOptions, 'transA' | 'transB' | 'splitK' | 'tile' | 'stages'> & {
    bias?: boolean;
    gelu?: boolean;
  } = {},
): KernelCase {
  const s = matmulShape(aShape, bShape, opts);
  return {
    name,
    inputs: () => ({
      a: Array.from(randomF32(product(aShape), seed)),
      b: Array.from(randomF32(product(bShape), seed + 1)),
      bias: Array.from(randomF32(s.n, seed + 2)),
    }),
    run: async (ctx, inputs) => {
      const a = Tensor.fromArray(ctx, aShape, 'f32', inputs.a, 'A');
      const b = Tensor.fromArray(ctx, bShape, 'f32', inputs.b, 'B');
      const bias = opts.bias ? Tensor.fromArray(ctx, [s.n], 'f32', inputs.bias, 'bias') : undefined;
      const aux = opts.gelu ? Tensor.empty(ctx, [s.batch * s.m, s.n], 'f32', 'aux') : undefined;
      const c = await matmul(
        ctx,
        { a, b, bias, aux },
        {
          transA: opts.transA,
          transB: opts.transB,
          activation: opts.gelu ? 'gelu' : 'none',
          splitK: opts.splitK,
          tile: opts.tile,
          stages: opts.stages,
        },
      );
      const out = { c: Array.from(await c.download()) };
      for (const t of [a, b, c, bias, aux]) t?.destroy();
      return out;
    },
    grade: (inputs, outputs) => {
      const prod = matmulReference(inputs.a, inputs.b, s);
      const absDot = matmulAbsReference(inputs.a, inputs.b, s);
      const { c } = epilogueReference(prod, s.n, {
        bias: opts.bias ? inputs.bias : undefined,
        activation: opts.gelu ? 'gelu' : 'none',
      });
      // Same bound as test/matmul.test.ts: γ_K·Σ|a||b| through GELU's slope ≤ 1.13, plus the epilogue's few roundings.
      return worstRatio(
        outputs.c,
        c,
        (i) => 1.13 * gammaF32(s.k) * absDot[i] + 6e-7 * (Math.abs(c[i]) + Math.abs(prod[i]) + 1),
      );
    },
  };
}

/**
 * Prefix-causal attention forward and backward on one shape. The backward runs from the
 * f32-rounded float64 forward (as test/attention.test.ts does), so its per-element error
 * bound (src/reference/attention.ts) applies unchanged. `backward` picks its kernels (the
 * adapter's choice when absent: the one-dispatch short kernel for T ≤ 64).
 */
function attentionCase(
  name: string,
  batch: number,
  seqLen: number,
  heads: number,
  headDim: number,
  prefix: number[],
  backward?: AttentionBackwardKernel,
): KernelCase {
  const shape = { batch, seqLen, heads, headDim };
  const width = 3 * heads * headDim;
  const inputs = () => {
    const qkv = randomF32(batch * seqLen * width, 31, -2, 2);
    const dOut = randomF32(batch * seqLen * heads * headDim, 32);
    const ref = attentionForwardReference(qkv, prefix, shape);
    return {
      qkv: Array.from(qkv),
      dOut: Array.from(dOut),
      out32: Array.from(Float32Array.from(ref.out)),
      lse32: Array.from(Float32Array.from(ref.lse)),
      prefix,
    };
  };
  return {
    name,
    inputs,
    run: async (ctx, x) => {
      const qkv = Tensor.fromArray(ctx, [batch, seqLen, width], 'f32', x.qkv, 'qkv');
      const prefixLengths = Tensor.fromArray(ctx, [batch], 'u32', x.prefix, 'prefix');
      const { out, lse } = await attentionForward(ctx, { qkv, prefixLengths }, { heads });
      const result = {
        out: Array.from(await out.download()),
        lse: Array.from(await lse.download()),
      };
      const out32 = Tensor.fromArray(ctx, out.shape, 'f32', x.out32, 'out (reference)');
      const lse32 = Tensor.fromArray(ctx, lse.shape, 'f32', x.lse32, 'lse (reference)');
      const dOut = Tensor.fromArray(ctx, out.shape, 'f32', x.dOut, 'dOut');
      const dQkv = await attentionBackward(
        ctx,
        { qkv, out: out32, lse: lse32, dOut, prefixLengths },
        { heads, backward },
      );
      const dqkv = Array.from(await dQkv.download());
      for (const t of [qkv, prefixLengths, out, lse, out32, lse32, dOut, dQkv]) t.destroy();
      return { ...result, dqkv };
    },
    grade: (x, got) => {
      const want = attentionForwardReference(x.qkv, x.prefix, shape);
      const rescales = Math.ceil(seqLen / attentionBlockSizes(headDim).forward.key);
      const fwdBound = attentionForwardErrorBound(x.qkv, x.prefix, shape, rescales);
      const dWant = attentionBackwardReference(x.qkv, x.dOut, x.prefix, shape);
      const bwdBound = attentionBackwardErrorBound(
        x.qkv,
        x.dOut,
        x.out32,
        x.lse32,
        x.prefix,
        shape,
      );
      return Math.max(
        worstRatio(got.out, want.out, (i) => fwdBound.out[i]),
        worstRatio(got.lse, want.lse, (i) => fwdBound.lse[i]),
        worstRatio(got.dqkv, dWant, (i) => bwdBound[i]),
      );
    },
  };
}

/**
 * Normalised-patch MSE loss: per-position losses, the loss and the fused gradient. The
 * tolerance (1e-6 of the output's largest magnitude + 2e-5 relative) is looser than test/patchMseLoss.test.ts's
 * derived per-element bound, whose observed errors at these sizes are ≤ 1e-6 relative; an
 * off-by-one in the counted positions or the pairing changes values by O(1).
 */
function patchMseLossCase(
  name: string,
  batch: number,
  positions: number,
  values: number,
  prefix: number[],
): KernelCase {
  const shape = { batch, positions, patchValues: values };
  return {
    name,
    inputs: () => ({
      pred: Array.from(randomF32(batch * positions * values, 41)),
      targets: Array.from(randomF32(batch * positions * values, 42, -2, 2)),
      prefix,
    }),
    run: async (ctx, x) => {
      const pred = Tensor.fromArray(ctx, [batch, positions, values], 'f32', x.pred, 'pred');
      const targets = Tensor.fromArray(
        ctx,
        [batch, positions, values],
        'f32',
        x.targets,
        'targets',
      );
      const prefixLengths = Tensor.fromArray(ctx, [batch], 'u32', x.prefix, 'prefix');
      const perPosition = Tensor.empty(ctx, [batch, positions], 'f32', 'per-position');
      const loss = Tensor.empty(ctx, [1], 'f32', 'loss');
      const gradPred = Tensor.empty(ctx, [batch, positions, values], 'f32', 'grad pred');
      await runOnce(
        ctx,
        await preparePatchMseLoss(ctx, {
          pred,
          targets,
          prefixLengths,
          perPosition,
          loss,
          gradPred,
        }),
      );
      return readBackAndFree({ perPosition, loss, gradPred }, [
        pred,
        targets,
        prefixLengths,
        perPosition,
        loss,
        gradPred,
      ]);
    },
    grade: (x, got) => {
      const want = patchMseLossReference(x.pred, x.targets, x.prefix, shape);
      const grad = patchMseLossBackwardReference(x.pred, x.targets, x.prefix, shape);
      // Absolute part relative to each output's own scale (gradients are ~1/(P·N) smaller).
      const tol = (w: ArrayLike<number>) => {
        let scale = 0;
        for (let i = 0; i < w.length; i++) scale = Math.max(scale, Math.abs(w[i]));
        return (i: number) => 1e-6 * scale + 2e-5 * Math.abs(w[i]);
      };
      return Math.max(
        worstRatio(got.perPosition, want.perPosition, tol(want.perPosition)),
        worstRatio(got.loss, [want.loss], tol([want.loss])),
        worstRatio(got.gradPred, grad, tol(grad)),
      );
    },
  };
}

/**
 * LayerNorm forward (graded by the derived per-element bound of src/reference/layernorm.ts)
 * and backward (dx, dweight, dbias; tolerance 1e-5 of each output's largest magnitude plus
 * 1e-5 relative — test/layernorm.test.ts's derived bounds measure ≤ 0.4 of theirs, which are
 * below this at these sizes; a wrong mean or a dropped row is an O(1) change).
 */
function layerNormCase(
  name: string,
  rows: number,
  dim: number,
  variant: LayerNormVariant = 'workgroup',
): KernelCase {
  const eps = 1e-6;
  return {
    name,
    inputs: () => ({
      x: Array.from(randomF32(rows * dim, 51, -3, 3)),
      weight: Array.from(randomF32(dim, 52, 0.5, 1.5)),
      bias: Array.from(randomF32(dim, 53)),
      dy: Array.from(randomF32(rows * dim, 54)),
    }),
    run: async (ctx, x) => {
      const xt = Tensor.fromArray(ctx, [rows, dim], 'f32', x.x, 'x');
      const w = Tensor.fromArray(ctx, [dim], 'f32', x.weight, 'weight');
      const b = Tensor.fromArray(ctx, [dim], 'f32', x.bias, 'bias');
      const dy = Tensor.fromArray(ctx, [rows, dim], 'f32', x.dy, 'dy');
      const { y, mean, rstd } = await layerNormForward(
        ctx,
        { x: xt, weight: w, bias: b },
        { eps, variant },
      );
      const grads = await layerNormBackward(ctx, { dy, x: xt, weight: w, mean, rstd }, { variant });
      const { dx, dweight, dbias } = grads;
      return readBackAndFree({ y, dx, dweight, dbias }, [
        xt,
        w,
        b,
        dy,
        y,
        mean,
        rstd,
        dx,
        dweight,
        dbias,
      ]);
    },
    grade: (x, got) => {
      const depth = layerNormReductionDepth(dim, variant);
      const bound = layerNormForwardErrorBounds(x.x, x.weight, x.bias, rows, dim, eps, depth);
      const want = layerNormReference(x.x, x.weight, x.bias, rows, dim, eps);
      const ref = layerNormBackwardReference(x.dy, x.x, x.weight, rows, dim, eps);
      const scaled = (w: ArrayLike<number>) => {
        let scale = 0;
        for (let i = 0; i < w.length; i++) scale = Math.max(scale, Math.abs(w[i]));
        return (i: number) => 1e-5 * scale + 1e-5 * Math.abs(w[i]);
      };
      return Math.max(
        worstRatio(got.y, want.y, (i) => bound.y[i]),
        worstRatio(got.dx, ref.dx, scaled(ref.dx)),
        worstRatio(got.dweight, ref.dweight, scaled(ref.dweight)),
        worstRatio(got.dbias, ref.dbias, scaled(ref.dbias)),
      );
    },
  };
}

export const KERNEL_CASES: readonly KernelCase[] = [
  matmulCase('matmul 1×1×1', [1, 1], [1, 1], 21),
  matmulCase('matmul 17×33×65', [17, 65], [65, 33], 22),
  matmulCase('matmul Aᵀ·B 21×13×150', [150, 21], [150, 13], 23, { transA: true }),
  matmulCase('matmul A·Bᵀ + bias + GELU 33×70×24', [33, 24], [70, 24], 24, {
    transB: true,
    bias: true,
    gelu: true,
  }),
  // Split-K (partials + reduce) with K not a multiple of the ranges, and the epilogue after
  // the reduce; the aligned variant (no bounds checks) on whole 64×64 tiles.
  matmulCase('matmul split-K Aᵀ·B 19×23×1001 into 7', [1001, 19], [1001, 23], 25, {
    transA: true,
    splitK: 7,
  }),
  matmulCase('matmul split-K A·Bᵀ + bias + GELU 33×70×300 into 3', [33, 300], [70, 300], 26, {
    transB: true,
    bias: true,
    gelu: true,
    splitK: 3,
  }),
  matmulCase('matmul aligned 64×128×64', [64, 64], [64, 128], 27, { tile: 'small' }),
  // The large tile on two shared-memory stages, as GPUs run it (the others take the adapter's
  // choice: one stage on a CPU adapter).
  matmulCase('matmul large tile, two stages, Aᵀ·B 130×129×40', [40, 130], [40, 129], 28, {
    transA: true,
    tile: 'large',
    stages: 2,
  }),
  // A backward pair in one dispatch: dX with the GELU gradient, dW split over K, accumulating.
  matmulGroupedCase(
    'grouped matmul: dX ⊙ gelu′ and split-K dW += on dY 301×33 (X 301×67)',
    301,
    33,
    67,
    28,
  ),
  attentionCase('attention fwd+bwd B=3 T=17 H=2 dh=32, S = 1, 16, 5', 3, 17, 2, 32, [1, 16, 5]),
  // The two cases above and below choose the short backward (T ≤ 64); this one the three kernels.
  attentionCase('attention fwd+3-kernel bwd B=3 T=17 H=2 dh=32', 3, 17, 2, 32, [1, 16, 5], 'flash'),
  attentionCase('attention fwd+bwd B=1 T=64 H=1 dh=64, bidirectional', 1, 64, 1, 64, [64]),
  patchMseLossCase('patch MSE loss B=3 K=17 P=48, S = 1, 16, 7', 3, 17, 48, [1, 16, 7]),
  gatheredPatchMseLossCase(
    'patch MSE loss on gathered rows B=3 K=17 P=48, S = 1, 16, 7',
    3,
    17,
    48,
    [1, 16, 7],
  ),
  gatherRowsCase(
    'gather rows 9 of 7×33, two absent',
    7,
    33,
    [6, 0, 0xffffffff, 3, 3, 1, 0xffffffff, 5, 2],
    false,
  ),
  gatherRowsCase('gather rows += 4 of 5×1, one absent', 5, 1, [4, 0xffffffff, 0, 2], true),
  layerNormCase('LayerNorm fwd+bwd R=37 D=192', 37, 192),
  layerNormCase('LayerNorm fwd+bwd R=5 D=257', 5, 257),
  layerNormCase('LayerNorm fwd+bwd, subgroup variant, R=37 D=200', 37, 200, 'subgroup'),
  layerNormCase('LayerNorm fwd+bwd, subgroup variant, R=1 D=7', 1, 7, 'subgroup'),
  // Every second pass of a backward's split-K and LayerNorm gradients in one dispatch.
  partialsReduceCase('partials reduce: 2 reductions (1 and 300 outputs, one accumulating)'),
  // Crops along the borders of 13×6 images, odd batch, images in four chunk buffers.
  augmentCase('augment train batch 5 of 13×6 → 6', 'train', 5, 13, 6, 6, [4, 0, 3, 3, 1], 31),
  augmentCase('augment eval batch 3 of 7×12 → 5', 'eval', 5, 7, 12, 5, [2, 4, 0], 32),
  // Arenas: one norm and one AdamW dispatch for tensors of 1, 3, 255 … 2049 values (block
  // edges), a decay mask; and a NaN in the last value of the last tensor (the step skipped).
  optimizerArenaCase(
    'optimizer arena: norm → clip → AdamW over 9 tensors, decay mask',
    [1, 3, 255, 256, 257, 1023, 1025, 2049, 7],
    [1, 4, 8],
    41,
  ),
  optimizerArenaCase(
    'optimizer arena: a NaN in the last tensor skips the step',
    [5, 1030, 1],
    [0],
    42,
    0,
  ),
];

export function kernelCase(name: string): KernelCase {
  const found = KERNEL_CASES.find((c) => c.name === name);
  if (!found) throw new Error(`no kernel case "${name}"`);
  return found;
}
