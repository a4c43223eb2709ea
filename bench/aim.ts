/**
 * Times this project's f32 matmul (`shaders/matmul.wgsl` through `prepareMatmul`) on square
 * n×n×n inputs, with the measurements of `./timing` (GPU time from timestamp queries,
 * batched and single wall-clock), then checks sampled elements of C in float64.
 */
import type { GpuContext } from '../src/gpu/context';
import { releaseDispatch, type PreparedDispatch } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import { prepareMatmul, type MatmulStages } from '../src/kernels/matmul';
import { checkSamples, samplePositions, type SampleCheck } from './stats';
import { readElements, timeDispatches, type RunPlan, type Timed } from './timing';

export type { RunPlan } from './timing';

export interface MatmulInputs {
  n: number;
  /** Row-major n×n A and B, the same data for every implementation. */
  a: Float32Array;
  b: Float32Array;
}

export interface ImplResult extends Timed {
  check: SampleCheck;
  extra?: Record<string, unknown>;
}

export async function benchAimMatmul(
  ctx: GpuContext,
  inputs: MatmulInputs,
  plan: RunPlan,
  stages?: MatmulStages,
): Promise<ImplResult> {
  const { n } = inputs;
  const a = Tensor.fromArray(ctx, [n, n], 'f32', inputs.a, 'bench A');
  const b = Tensor.fromArray(ctx, [n, n], 'f32', inputs.b, 'bench B');
  const c = Tensor.empty(ctx, [n, n], 'f32', 'bench C');
  let dispatch: PreparedDispatch | undefined;
  try {
    [dispatch] = await prepareMatmul(ctx, { a, b, c }, { stages });
    const timed = await timeDispatches(ctx, `bench matmul ${n}³`, [dispatch], plan);
    const positions = samplePositions(n, n);
    const got = await readElements(
      ctx,
      c.buffer,
      positions.map(([i, j]) => i * n + j),
    );
    return {
      ...timed,
      check: checkSamples(inputs.a, inputs.b, n, n, positions, got),
      extra: { workgroups: dispatch.workgroups, kernel: dispatch.name },
    };
  } finally {
    if (dispatch) releaseDispatch(dispatch);
    for (const t of [a, b, c]) t.destroy();
  }
}
