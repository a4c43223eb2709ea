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
import { matmul, matmulShape, type MatmulOptions } from './matmul';

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
  opts: Pick<MatmulOptions, 'transA' | 'transB'> & { bias?: boolean; gelu?: boolean } = {},
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
      const c = await matmul(ctx, a, b, {
        ...opts,
        bias,
        aux,
        activation: opts.gelu ? 'gelu' : 'none',
      });
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
      if (outputs.c.length !== c.length) return Infinity;
      // Same bound as test/matmul.test.ts: γ_K·Σ|a||b| through GELU's slope ≤ 1.13, plus the epilogue's few roundings.
      let worst = 0;
      for (let i = 0; i < c.length; i++) {
        const tol =
          1.13 * gammaF32(s.k) * absDot[i] + 6e-7 * (Math.abs(c[i]) + Math.abs(prod[i]) + 1);
        worst = Math.max(worst, Math.abs(outputs.c[i] - c[i]) / tol);
      }
      return Number.isNaN(worst) ? Infinity : worst;
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
];

export function kernelCase(name: string): KernelCase {
  const found = KERNEL_CASES.find((c) => c.name === name);
  if (!found) throw new Error(`no kernel case "${name}"`);
  return found;
}
