/**
 * Times this project's f32 matmul (`shaders/matmul.wgsl` through `prepareMatmul`).
 *
 * - GPU time: `reps` dispatches recorded into one compute pass, timed with timestamp
 *   queries around the pass (`timeComputePass`) and divided by `reps`; median of `trials`.
 * - Wall-clock, batched: the same `reps` dispatches, submit → `onSubmittedWorkDone`, ÷ reps.
 * - Wall-clock, single: one dispatch per submission, submit → `onSubmittedWorkDone`, median.
 */
import type { GpuContext } from '../src/gpu/context';
import { recordDispatch, releaseDispatch, type PreparedDispatch } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import { timeComputePass } from '../src/gpu/timing';
import { prepareMatmul } from '../src/kernels/matmul';
import { checkSamples, median, samplePositions, type SampleCheck } from './stats';

export interface MatmulInputs {
  n: number;
  /** Row-major n×n A and B, the same data for every implementation. */
  a: Float32Array;
  b: Float32Array;
}

export interface RunPlan {
  reps: number;
  warmup: number;
  trials: number;
}

export interface ImplResult {
  /** The headline time per matmul: `gpuMs` when timestamp queries exist, else `wallBatchedMs`. */
  ms: number;
  timing: 'timestamp-query' | 'wall-clock';
  /** GPU time per matmul from timestamp queries (absent without `timestamp-query`). */
  gpuMs?: number;
  /** Wall-clock per matmul with `reps` matmuls in flight, then one wait. */
  wallBatchedMs: number;
  /** Median wall-clock of one matmul: submit, wait for the GPU. */
  wallMedianMs: number;
  check: SampleCheck;
  extra?: Record<string, unknown>;
}

function recordMany(dispatch: PreparedDispatch, count: number) {
  return (pass: GPUComputePassEncoder) => {
    for (let i = 0; i < count; i++) recordDispatch(pass, dispatch);
  };
}

async function submitMany(
  ctx: GpuContext,
  label: string,
  dispatch: PreparedDispatch,
  count: number,
) {
  await ctx.submit(label, (encoder) => {
    const pass = encoder.beginComputePass({ label });
    recordMany(dispatch, count)(pass);
    pass.end();
  });
}

/** Reads single f32 elements C[i,j] of a row-major [*, n] buffer (no full download). */
async function readElements(
  ctx: GpuContext,
  buffer: GPUBuffer,
  n: number,
  positions: ReadonlyArray<[number, number]>,
): Promise<Float32Array> {
  const staging = ctx.device.createBuffer({
    label: 'bench samples readback',
    size: positions.length * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    await ctx.submit('bench read samples', (encoder) => {
      positions.forEach(([i, j], s) =>
        encoder.copyBufferToBuffer(buffer, (i * n + j) * 4, staging, s * 4, 4),
      );
    });
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return out;
  } finally {
    staging.destroy();
  }
}

export async function benchAimMatmul(
  ctx: GpuContext,
  inputs: MatmulInputs,
  plan: RunPlan,
): Promise<ImplResult> {
  const { n } = inputs;
  const a = Tensor.fromArray(ctx, [n, n], 'f32', inputs.a, 'bench A');
  const b = Tensor.fromArray(ctx, [n, n], 'f32', inputs.b, 'bench B');
  const c = Tensor.empty(ctx, [n, n], 'f32', 'bench C');
  let dispatch: PreparedDispatch | undefined;
  try {
    dispatch = await prepareMatmul(ctx, a, b, c);
    const label = `bench matmul ${n}³`;
    for (let i = 0; i < plan.warmup; i++) await submitMany(ctx, `${label} warmup`, dispatch, 1);
    await ctx.finish();

    // Batched: timestamp queries around one pass of `reps` dispatches (or wall-clock without them).
    const batched: number[] = [];
    let source: ImplResult['timing'] = 'wall-clock';
    for (let t = 0; t < plan.trials; t++) {
      const timing = await timeComputePass(
        ctx,
        `${label} ×${plan.reps}`,
        recordMany(dispatch, plan.reps),
      );
      batched.push(timing.ms / plan.reps);
      source = timing.source;
    }

    // Batched wall-clock (when the line above used timestamps, measure it separately).
    let wallBatched: number[] = batched;
    if (source === 'timestamp-query') {
      wallBatched = [];
      for (let t = 0; t < plan.trials; t++) {
        await ctx.finish();
        const start = performance.now();
        await submitMany(ctx, `${label} ×${plan.reps}`, dispatch, plan.reps);
        await ctx.finish();
        wallBatched.push((performance.now() - start) / plan.reps);
      }
    }

    // One dispatch per submission: what a single eager call costs, latency included.
    const single: number[] = [];
    for (let r = 0; r < plan.reps; r++) {
      await ctx.finish();
      const start = performance.now();
      await submitMany(ctx, label, dispatch, 1);
      await ctx.finish();
      single.push(performance.now() - start);
    }

    const positions = samplePositions(n, n);
    const got = await readElements(ctx, c.buffer, n, positions);
    const gpuMs = source === 'timestamp-query' ? median(batched) : undefined;
    const wallBatchedMs = median(wallBatched);
    return {
      ms: gpuMs ?? wallBatchedMs,
      timing: source,
      gpuMs,
      wallBatchedMs,
      wallMedianMs: median(single),
      check: checkSamples(inputs.a, inputs.b, n, n, positions, got),
      extra: { workgroups: dispatch.workgroups, kernel: dispatch.name },
    };
  } finally {
    if (dispatch) releaseDispatch(dispatch);
    for (const t of [a, b, c]) t.destroy();
  }
}
