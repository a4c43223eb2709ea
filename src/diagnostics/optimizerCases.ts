/**
 * Browser kernel cases (see ./kernelCases.ts) for the one-pass optimizer: gradients,
 * parameters and AdamW's moments in arenas (TensorPool.f32Arena, as the model and the Trainer
 * allocate them), the gradient norm's partial sums (grad_norm_partials.wgsl) and AdamW
 * (adamw.wgsl over a block table) each one dispatch for every tensor. One step: norm and clip
 * scale on the GPU, then AdamW reading that clip scale, graded against the float64 references
 * (src/reference/gradNorm.ts, adamw.ts).
 *
 * Tolerances. The norm: Σg² is a tree of depth 10 per block of 1024 values plus 10 per pass
 * over the partials, all terms ≥ 0, so |Ŝ − S| ≤ γ_d·S; sqrt halves it and adds ≤ 9u (as
 * test/gradNorm.test.ts). AdamW is graded with the clip scale the GPU produced (so the norm's
 * error is not counted twice): one step from zero moments is ~20 roundings of ≤ u relative to
 * operands no larger than |p₀| + |update| (m and v: ≤ 4 roundings of themselves), so 64u of
 * that is a ×3 margin. With a NaN gradient the norm and clip scale must be NaN and p, m, v
 * exactly unchanged.
 */
import { runDispatches } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { createAdamWStep, prepareAdamW, writeAdamWStep } from '../kernels/adamw';
import { prepareGradNorm } from '../kernels/gradNorm';
import { REDUCE_BLOCK, REDUCE_DEPTH_PER_PASS, reducePassLengths } from '../kernels/reduceSum';
import { TensorPool } from '../model/gpuBuffers';
import { adamWStepReference } from '../reference/adamw';
import { clipGradNormReference } from '../reference/gradNorm';
import { gammaF32 } from '../reference/matmul';
import { randomF32 } from '../reference/random';
import type { KernelCase } from './kernelCases';

const u = 2 ** -24;
const LR = 0.05;

/** Depth of the norm's summation tree for tensors of `sizes` (see the header). */
function normDepth(sizes: readonly number[]): number {
  const partials = sizes.reduce((n, s) => n + Math.max(1, Math.ceil(s / REDUCE_BLOCK)), 0);
  return 1 + REDUCE_DEPTH_PER_PASS * (1 + reducePassLengths(partials).length);
}

function split(values: readonly number[], sizes: readonly number[]): number[][] {
  const out: number[][] = [];
  let at = 0;
  for (const n of sizes) {
    out.push(values.slice(at, at + n));
    at += n;
  }
  return out;
}

/**
 * Tensors of `sizes` (decay 0.05, or 0 where `noDecay` marks the biases and norms), one step
 * of norm → clip → AdamW; with `nanAt`, that value of the last tensor's gradient is NaN.
 */
export function optimizerArenaCase(
  name: string,
  sizes: readonly number[],
  noDecay: readonly number[],
  seed: number,
  nanAt?: number,
): KernelCase {
  const total = sizes.reduce((a, b) => a + b, 0);
  const decays = sizes.map((_, i) => (noDecay.includes(i) ? 0 : 0.05));
  return {
    name,
    inputs: () => {
      const grad = Array.from(randomF32(total, seed, -0.5, 0.5));
      if (nanAt !== undefined) grad[total - sizes[sizes.length - 1] + nanAt] = NaN;
      return { grad, param: Array.from(randomF32(total, seed + 1, -1, 1)) };
    },
    run: async (ctx, x) => {
      const pool = new TensorPool(ctx);
      const shapes = sizes.map((n) => [n]);
      const [param, grad, expAvg, expAvgSq] = ['p', 'g', 'm', 'v'].map((label) =>
        pool.f32Arena(shapes, label),
      );
      split(x.param, sizes).forEach((v, i) => param[i].upload(v));
      split(x.grad, sizes).forEach((v, i) => grad[i].upload(v));
      const norm = pool.adopt(Tensor.empty(ctx, [1], 'f32', 'norm'));
      const clipScale = pool.adopt(Tensor.empty(ctx, [1], 'f32', 'clip scale'));
      const step = createAdamWStep(ctx);
      try {
        const dispatches = [
          ...(await prepareGradNorm(ctx, { grads: grad, norm, clipScale })),
          ...(await prepareAdamW(ctx, {
            params: sizes.map((_, i) => ({
              param: param[i],
              grad: grad[i],
              expAvg: expAvg[i],
              expAvgSq: expAvgSq[i],
              weightDecay: decays[i],
            })),
            step,
            clipScale,
          })),
        ];
        writeAdamWStep(ctx, step, 1, LR);
        await runDispatches(ctx, dispatches);
        const all = async (list: Tensor<'f32'>[]) =>
          (await Promise.all(list.map((t) => t.download()))).flatMap((a) => Array.from(a));
        return {
          norm: Array.from(await norm.download()),
          clipScale: Array.from(await clipScale.download()),
          param: await all(param),
          expAvg: await all(expAvg),
          expAvgSq: await all(expAvgSq),
        };
      } finally {
        step.buffer.destroy();
        pool.destroy();
      }
    },
    grade: (x, y) => {
      const grads = split(x.grad, sizes);
      const want = clipGradNormReference(grads, 1);
      const [norm] = y.norm;
      const [clip] = y.clipScale;
      if (!want.finite) {
        const unchanged =
          y.param.every((v, i) => Object.is(v, Math.fround(x.param[i]))) &&
          y.expAvg.every((v) => v === 0) &&
          y.expAvgSq.every((v) => v === 0);
        return Number.isNaN(norm) && Number.isNaN(clip) && unchanged ? 0 : Infinity;
      }
      const normTol = (gammaF32(normDepth(sizes)) / 2 + 9 * u) * want.totalNorm;
      let worst = Math.abs(norm - want.totalNorm) / normTol;
      let at = 0;
      grads.forEach((g, i) => {
        const p0 = x.param.slice(at, at + g.length).map(Math.fround);
        const ref = adamWStepReference(
          {
            param: Float64Array.from(p0),
            expAvg: new Float64Array(g.length),
            expAvgSq: new Float64Array(g.length),
          },
          g,
          { step: 1, lr: LR, weightDecay: decays[i], clipScale: clip },
        );
        for (let k = 0; k < g.length; k++) {
          const update = Math.abs(ref.param[k] - p0[k]);
          const checks: Array<[number, number, number]> = [
            [y.param[at + k], ref.param[k], 64 * u * (Math.abs(p0[k]) + update)],
            [y.expAvg[at + k], ref.expAvg[k], 64 * u * Math.abs(ref.expAvg[k])],
            [y.expAvgSq[at + k], ref.expAvgSq[k], 64 * u * ref.expAvgSq[k]],
          ];
          for (const [got, exact, tol] of checks) {
            const err = Math.abs(got - exact);
            worst = Math.max(worst, Number.isNaN(err) ? Infinity : err / (tol + 1e-45));
          }
        }
        at += g.length;
      });
      return worst;
    },
  };
}
