/**
 * Browser kernel case for matmul_grouped.wgsl (src/kernels/matmulGrouped.ts): a backward
 * pair on one dY [rows, out] in one dispatch — dX = (dY·W) ⊙ gelu'(pre) and dW += dYᵀ·X split
 * over K into 3 ranges (then its reduce) — on shapes that are multiples of no tile, graded
 * against the float64 reference with test/matmulCheck.ts's bound (γ_K·Σ|a||b| through GELU's
 * slope ≤ 1.13, plus the epilogue's few roundings).
 */
import { Tensor } from '../gpu/tensor';
import { groupedMatmul } from '../kernels/matmulGrouped';
import { worstRatio } from '../reference/compare';
import {
  epilogueReference,
  gammaF32,
  matmulAbsReference,
  matmulReference,
  type MatmulShape,
} from '../reference/matmul';
import { randomF32 } from '../reference/random';
import type { KernelCase } from './kernelCases';
import { readBackAndFree } from './readBack';

export function matmulGroupedCase(
  name: string,
  rows: number,
  out: number,
  inputs: number,
  seed: number,
): KernelCase {
  const dx: MatmulShape = {
    batch: 1,
    m: rows,
    n: inputs,
    k: out,
    transA: false,
    transB: false,
    broadcastB: true,
  };
  const dw: MatmulShape = { ...dx, m: out, n: inputs, k: rows, transA: true };
  return {
    name,
    inputs: () => ({
      dy: Array.from(randomF32(rows * out, seed)),
      w: Array.from(randomF32(out * inputs, seed + 1)),
      x: Array.from(randomF32(rows * inputs, seed + 2)),
      pre: Array.from(randomF32(rows * inputs, seed + 3, -3, 3)),
      previous: Array.from(randomF32(out * inputs, seed + 4)),
    }),
    run: async (ctx, v) => {
      const dy = Tensor.fromArray(ctx, [rows, out], 'f32', v.dy, 'dY');
      const w = Tensor.fromArray(ctx, [out, inputs], 'f32', v.w, 'W');
      const x = Tensor.fromArray(ctx, [rows, inputs], 'f32', v.x, 'X');
      const pre = Tensor.fromArray(ctx, [rows, inputs], 'f32', v.pre, 'pre');
      const dX = Tensor.empty(ctx, [rows, inputs], 'f32', 'dX');
      const dW = Tensor.fromArray(ctx, [out, inputs], 'f32', v.previous, 'dW');
      await groupedMatmul(ctx, dy, [
        { b: w, c: dX, aux: pre, opts: { activation: 'gelu-grad' } },
        { b: x, c: dW, opts: { transA: true, accumulate: true, splitK: 3 } },
      ]);
      return readBackAndFree({ dX, dW }, [dy, w, x, pre, dX, dW]);
    },
    grade: (v, got) => {
      const grade = (
        s: MatmulShape,
        b: number[],
        e: { aux?: number[]; previous?: number[] },
        result: number[],
      ) => {
        const product = matmulReference(v.dy, b, s);
        const absDot = matmulAbsReference(v.dy, b, s);
        const { c } = epilogueReference(product, s.n, {
          activation: e.aux ? 'gelu-grad' : 'none',
          aux: e.aux,
          previous: e.previous,
        });
        return worstRatio(
          result,
          c,
          (i) =>
            1.13 * gammaF32(s.k) * absDot[i] +
            6e-7 * (Math.abs(c[i]) + Math.abs(product[i]) + 1) +
            1e-30,
        );
      };
      return Math.max(
        grade(dx, v.w, { aux: v.pre }, got.dX),
        grade(dw, v.x, { previous: v.previous }, got.dW),
      );
    },
  };
}
