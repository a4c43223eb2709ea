/**
 * Browser kernel case for partials_reduce.wgsl (src/kernels/partialsReduce.ts): two
 * reductions in one dispatch — one of a single output, one of 300 (not a multiple of the
 * 256-output block) accumulating into its old values — with strides longer than the
 * outputs, views at offsets into one partials and one output buffer, graded against the
 * float64 reference within γ_n of the summed magnitudes (n additions each).
 */
import { Tensor } from '../gpu/tensor';
import { partialsReduce } from '../kernels/partialsReduce';
import { worstRatio } from '../reference/compare';
import { gammaF32 } from '../reference/matmul';
import { partialsReduceReference } from '../reference/partialsReduce';
import { randomF32 } from '../reference/random';
import type { KernelCase } from './kernelCases';
import { readBackAndFree } from './readBack';

/** [count, stride, length, accumulate] of the two reductions. */
const REDUCTIONS: [number, number, number, boolean][] = [
  [5, 3, 1, false],
  [3, 301, 300, true],
];
/** Where each reduction's partials and outputs start (values; 256-byte aligned). */
const PARTIALS_AT = [0, 64];
const OUT_AT = [0, 64];

export function partialsReduceCase(name: string): KernelCase {
  const sizes = REDUCTIONS.map(([count, stride, length]) => (count - 1) * stride + length);
  const partialsValues = PARTIALS_AT[1] + sizes[1];
  const outValues = OUT_AT[1] + REDUCTIONS[1][2];
  return {
    name,
    inputs: () => ({
      partials: Array.from(randomF32(partialsValues, 61, -2, 2)),
      out: Array.from(randomF32(outValues, 62, -2, 2)),
    }),
    run: async (ctx, x) => {
      const partials = Tensor.fromArray(ctx, [partialsValues], 'f32', x.partials, 'partials');
      const out = Tensor.fromArray(ctx, [outValues], 'f32', x.out, 'out');
      await partialsReduce(
        ctx,
        REDUCTIONS.map(([count, stride, length, accumulate], i) => ({
          partials: partials.slice(4 * PARTIALS_AT[i], [sizes[i]]),
          out: out.slice(4 * OUT_AT[i], [length]),
          count,
          stride,
          length,
          accumulate,
        })),
      );
      return readBackAndFree({ out }, [partials, out]);
    },
    grade: (x, got) => {
      let worst = 0;
      REDUCTIONS.forEach(([count, stride, length, accumulate], i) => {
        const c = {
          partials: x.partials.slice(PARTIALS_AT[i]),
          out: x.out.slice(OUT_AT[i]),
          count,
          stride,
          length,
          accumulate,
        };
        const want = partialsReduceReference(c);
        const tol = (j: number) => {
          let magnitude = accumulate ? Math.abs(c.out[j]) : 0;
          for (let s = 0; s < count; s++) magnitude += Math.abs(c.partials[s * stride + j]);
          return gammaF32(count + 1) * magnitude + 1e-30;
        };
        worst = Math.max(
          worst,
          worstRatio(got.out.slice(OUT_AT[i], OUT_AT[i] + length), want, tol),
        );
      });
      return worst;
    },
  };
}
