/**
 * Times prepared dispatches the same way for every kernel the benchmark measures:
 *
 * - GPU time: `reps` repetitions of the dispatch sequence recorded into one compute pass,
 *   timed with timestamp queries around the pass (`timeComputePass`) and divided by `reps`;
 *   median of `trials`. Without `timestamp-query` this is the batched wall-clock below.
 * - Wall-clock, batched: the same `reps` repetitions, submit → `onSubmittedWorkDone`, ÷ reps;
 *   median of `trials`.
 * - Wall-clock, single: one repetition per submission, submit → `onSubmittedWorkDone`;
 *   median of `reps`. Includes submission latency.
 *
 * Dispatches in one pass run in order and each sees the previous one's writes (every
 * dispatch is its own WebGPU usage scope), so a forward followed by its backward is timed
 * as one sequence, as the trainer records them.
 */
import type { GpuContext } from '../src/gpu/context';
import { recordDispatch, type PreparedDispatch } from '../src/gpu/dispatch';
import { timeComputePass } from '../src/gpu/timing';
import { median } from './stats';

export interface RunPlan {
  reps: number;
  warmup: number;
  trials: number;
}

export interface Timed {
  /** The headline time per repetition: `gpuMs` when timestamp queries exist, else `wallBatchedMs`. */
  ms: number;
  timing: 'timestamp-query' | 'wall-clock';
  /** GPU time per repetition from timestamp queries (absent without `timestamp-query`). */
  gpuMs?: number;
  /** Wall-clock per repetition with `reps` repetitions in flight, then one wait. */
  wallBatchedMs: number;
  /** Median wall-clock of one repetition: submit, wait for the GPU. */
  wallMedianMs: number;
}

function recordMany(dispatches: readonly PreparedDispatch[], count: number) {
  return (pass: GPUComputePassEncoder) => {
    for (let i = 0; i < count; i++) for (const d of dispatches) recordDispatch(pass, d);
  };
}

/** Submits `count` repetitions of `dispatches` in one pass and waits for the error scopes. */
export async function submitMany(
  ctx: GpuContext,
  label: string,
  dispatches: readonly PreparedDispatch[],
  count: number,
): Promise<void> {
  await ctx.submit(label, (encoder) => {
    const pass = encoder.beginComputePass({ label });
    recordMany(dispatches, count)(pass);
    pass.end();
  });
}

/** Warm-up runs, then the three measurements described at the top of this file. */
export async function timeDispatches(
  ctx: GpuContext,
  label: string,
  dispatches: readonly PreparedDispatch[],
  plan: RunPlan,
): Promise<Timed> {
  for (let i = 0; i < plan.warmup; i++) await submitMany(ctx, `${label} warmup`, dispatches, 1);
  await ctx.finish();

  const batched: number[] = [];
  let source: Timed['timing'] = 'wall-clock';
  for (let t = 0; t < plan.trials; t++) {
    const timing = await timeComputePass(
      ctx,
      `${label} ×${plan.reps}`,
      recordMany(dispatches, plan.reps),
    );
    batched.push(timing.ms / plan.reps);
    source = timing.source;
  }

  // When the loop above used timestamps, measure the batched wall-clock separately.
  let wallBatched: number[] = batched;
  if (source === 'timestamp-query') {
    wallBatched = [];
    for (let t = 0; t < plan.trials; t++) {
      await ctx.finish();
      const start = performance.now();
      await submitMany(ctx, `${label} ×${plan.reps}`, dispatches, plan.reps);
      await ctx.finish();
      wallBatched.push((performance.now() - start) / plan.reps);
    }
  }

  const single: number[] = [];
  for (let r = 0; r < plan.reps; r++) {
    await ctx.finish();
    const start = performance.now();
    await submitMany(ctx, label, dispatches, 1);
    await ctx.finish();
    single.push(performance.now() - start);
  }

  const gpuMs = source === 'timestamp-query' ? median(batched) : undefined;
  const wallBatchedMs = median(wallBatched);
  return {
    ms: gpuMs ?? wallBatchedMs,
    timing: source,
    gpuMs,
    wallBatchedMs,
    wallMedianMs: median(single),
  };
}

/** Copies `count` f32 values starting at element `offset` of `buffer` back to the CPU. */
export async function readRange(
  ctx: GpuContext,
  buffer: GPUBuffer,
  offset: number,
  count: number,
): Promise<Float32Array> {
  const staging = ctx.device.createBuffer({
    label: 'bench range readback',
    size: Math.max(4, count * 4),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    await ctx.submit('bench read range', (encoder) => {
      encoder.copyBufferToBuffer(buffer, offset * 4, staging, 0, count * 4);
    });
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0, count * 4));
    staging.unmap();
    return out;
  } finally {
    staging.destroy();
  }
}

/** Reads single f32 elements at the given flat indices of `buffer` (no full download). */
export async function readElements(
  ctx: GpuContext,
  buffer: GPUBuffer,
  indices: readonly number[],
): Promise<Float32Array> {
  const staging = ctx.device.createBuffer({
    label: 'bench samples readback',
    size: Math.max(4, indices.length * 4),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    await ctx.submit('bench read samples', (encoder) => {
      indices.forEach((index, s) =>
        encoder.copyBufferToBuffer(buffer, index * 4, staging, s * 4, 4),
      );
    });
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0, indices.length * 4));
    staging.unmap();
    return out;
  } finally {
    staging.destroy();
  }
}
