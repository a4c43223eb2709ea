/**
 * A quick measurement of what this adapter computes per millisecond, for the page's estimate
 * of a run's time before the first run on it (issue 15: "the cost before pressing Train").
 * One matrix product of a training-like shape, its pipeline compiled and run once first, then
 * timed over a few submissions (the fastest is kept: the others waited on something else).
 * Wall-clock time including the submission, which a training step pays too.
 */
import type { GpuContext } from '../gpu/context';
import { releaseDispatch, runDispatches } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { prepareMatmul } from '../kernels/matmul';

/** [M, K]·[K, N]: an activation block times a weight of a small AIM's width. */
export const RATE_SHAPE = { m: 512, n: 256, k: 256 } as const;
/** Products per submission: enough that the submission's own cost does not dominate. */
const PRODUCTS_PER_SUBMISSION = 4;

export interface GpuRate {
  /** FLOPs per millisecond of the fastest timed submission. */
  flopsPerMs: number;
  /** That submission's wall-clock time. */
  ms: number;
  submissions: number;
}

export async function measureGpuRate(
  ctx: GpuContext,
  { budgetMs = 1500, maxSubmissions = 6 }: { budgetMs?: number; maxSubmissions?: number } = {},
): Promise<GpuRate> {
  const { m, n, k } = RATE_SHAPE;
  const fill = (count: number, seed: number) =>
    Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37 + seed) * 0.5);
  const a = Tensor.fromArray(ctx, [m, k], 'f32', fill(m * k, 1), 'rate A');
  const b = Tensor.fromArray(ctx, [k, n], 'f32', fill(k * n, 2), 'rate B');
  const c = Tensor.empty(ctx, [m, n], 'f32', 'rate C');
  const dispatches = await prepareMatmul(ctx, { a, b, c });
  try {
    const batch = Array.from({ length: PRODUCTS_PER_SUBMISSION }, () => dispatches).flat();
    await runDispatches(ctx, dispatches); // compiles and warms the pipeline
    await ctx.device.queue.onSubmittedWorkDone();
    let best = Infinity;
    let submissions = 0;
    const started = performance.now();
    while (
      submissions < maxSubmissions &&
      (submissions < 2 || performance.now() - started < budgetMs)
    ) {
      const t0 = performance.now();
      await runDispatches(ctx, batch);
      // Submission returns before the GPU is done: wait for the work itself.
      await ctx.device.queue.onSubmittedWorkDone();
      best = Math.min(best, performance.now() - t0);
      submissions++;
    }
    const flops = 2 * m * n * k * PRODUCTS_PER_SUBMISSION;
    return { flopsPerMs: flops / Math.max(best, 1e-3), ms: best, submissions };
  } finally {
    dispatches.forEach(releaseDispatch);
    for (const t of [a, b, c]) t.destroy();
  }
}
