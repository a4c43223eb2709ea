/**
 * f32 matrix multiply on the GPU (`shaders/matmul.wgsl`): C = A·B, batched, with B
 * optionally shared by the whole batch. Shapes: A [M,K] or [batch,M,K]; B [K,N] or
 * [batch,K,N]; C [M,N] or [batch,M,N].
 */
import type { GpuContext } from '../gpu/context';
import { runDispatches, releaseDispatch, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor, uniformU32 } from '../gpu/tensor';

/** Output tile of one workgroup (must match TILE_M/TILE_N in matmul.wgsl). */
export const MATMUL_TILE = { m: 64, n: 64 } as const;

export interface MatmulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
  /** B is one [K,N] matrix used for every batch entry. */
  broadcastB: boolean;
}

export function matmulShape(a: readonly number[], b: readonly number[]): MatmulShape {
  if (a.length < 2 || a.length > 3 || b.length < 2 || b.length > 3) {
    throw new RangeError(`matmul: A [${a.join(',')}] and B [${b.join(',')}] must be 2-D or 3-D`);
  }
  const batch = a.length === 3 ? a[0] : 1;
  const [m, k] = a.slice(-2);
  const [kb, n] = b.slice(-2);
  if (k !== kb)
    throw new RangeError(
      `matmul: inner dimensions differ, A [${a.join(',')}] · B [${b.join(',')}]`,
    );
  if (b.length === 3 && b[0] !== batch) {
    throw new RangeError(`matmul: batch of B (${b[0]}) differs from batch of A (${batch})`);
  }
  if (m < 1 || n < 1 || k < 1 || batch < 1)
    throw new RangeError('matmul: every dimension must be ≥ 1');
  return { batch, m, n, k, broadcastB: b.length === 2 };
}

export async function prepareMatmul(
  ctx: GpuContext,
  a: Tensor<'f32'>,
  b: Tensor<'f32'>,
  c: Tensor<'f32'>,
): Promise<PreparedDispatch> {
  const s = matmulShape(a.shape, b.shape);
  const expected = a.shape.length === 3 ? [s.batch, s.m, s.n] : [s.m, s.n];
  if (c.shape.join(',') !== expected.join(',')) {
    throw new RangeError(
      `matmul: output is [${c.shape.join(',')}], expected [${expected.join(',')}]`,
    );
  }
  const maxGroups = ctx.capabilities.limits.maxComputeWorkgroupsPerDimension;
  const workgroups: [number, number, number] = [
    Math.ceil(s.n / MATMUL_TILE.n),
    Math.ceil(s.m / MATMUL_TILE.m),
    s.batch,
  ];
  if (workgroups.some((w) => w > maxGroups)) {
    throw new RangeError(
      `matmul: ${workgroups.join('×')} workgroups exceed this GPU's limit of ${maxGroups} per dimension`,
    );
  }
  const kernel = await ctx.kernels.get({ shader: 'matmul' });
  const dims = uniformU32(ctx, 'matmul dims', [
    s.m,
    s.n,
    s.k,
    s.batch,
    s.m * s.k,
    s.broadcastB ? 0 : s.k * s.n,
    s.m * s.n,
  ]);
  return { kernel, buffers: [a.buffer, b.buffer, c.buffer, dims], workgroups, owned: [dims] };
}

/** C = A·B, allocating C. */
export async function matmul(
  ctx: GpuContext,
  a: Tensor<'f32'>,
  b: Tensor<'f32'>,
): Promise<Tensor<'f32'>> {
  const s = matmulShape(a.shape, b.shape);
  const c = Tensor.empty(
    ctx,
    a.shape.length === 3 ? [s.batch, s.m, s.n] : [s.m, s.n],
    'f32',
    'matmul C',
  );
  const dispatch = await prepareMatmul(ctx, a, b, c);
  try {
    await runDispatches(ctx, [dispatch]);
  } finally {
    releaseDispatch(dispatch);
  }
  return c;
}
