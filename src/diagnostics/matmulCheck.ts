/**
 * A self-check of the matmul kernel against the float64 reference, runnable wherever a
 * GpuContext exists (page, Web Worker, Node): the GPU tab's self-test (loaded by the worker
 * only when it runs) and the e2e tests use it.
 */
import { Tensor } from '../gpu/tensor';
import type { GpuContext } from '../gpu/context';
import { matmul, matmulShape } from '../kernels/matmul';
import { gammaF32, matmulAbsReference, matmulReference } from '../reference/matmul';
import { randomF32 } from '../reference/random';
import type { MatmulCheckRequest, MatmulCheckResult } from './selfTestShapes';

export type { MatmulCheckRequest, MatmulCheckResult };

/** The inputs of a check, generated identically by whoever verifies the result. */
export function matmulCheckInputs(req: MatmulCheckRequest): { a: Float32Array; b: Float32Array } {
  return { a: randomF32(req.m * req.k, req.seed), b: randomF32(req.k * req.n, req.seed + 1) };
}

/** Runs C = A·B on the GPU for seeded inputs and returns C. */
export async function seededMatmul(
  ctx: GpuContext,
  req: MatmulCheckRequest,
): Promise<{ c: Float32Array; ms: number }> {
  const { a, b } = matmulCheckInputs(req);
  const ta = Tensor.fromArray(ctx, [req.m, req.k], 'f32', a, 'check A');
  const tb = Tensor.fromArray(ctx, [req.k, req.n], 'f32', b, 'check B');
  const start = performance.now();
  const tc = await matmul(ctx, { a: ta, b: tb });
  const c = await tc.download();
  const ms = performance.now() - start;
  for (const t of [ta, tb, tc]) t.destroy();
  return { c, ms };
}

export function compareWithReference(
  req: MatmulCheckRequest,
  c: Float32Array,
): Omit<MatmulCheckResult, 'ms'> {
  const { a, b } = matmulCheckInputs(req);
  const shape = matmulShape([req.m, req.k], [req.k, req.n]);
  const want = matmulReference(a, b, shape);
  const absDot = matmulAbsReference(a, b, shape);
  const gamma = gammaF32(req.k);
  let worstBoundRatio = 0;
  let maxAbsError = 0;
  if (c.length !== want.length)
    return { ...req, worstBoundRatio: Infinity, maxAbsError: Infinity, pass: false };
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(c[i] - want[i]);
    maxAbsError = Math.max(maxAbsError, err);
    worstBoundRatio = Math.max(worstBoundRatio, err / (gamma * absDot[i] + 1e-30));
  }
  return { ...req, worstBoundRatio, maxAbsError, pass: worstBoundRatio <= 1 };
}

export async function checkMatmul(
  ctx: GpuContext,
  req: MatmulCheckRequest,
): Promise<MatmulCheckResult> {
  const { c, ms } = await seededMatmul(ctx, req);
  return { ...compareWithReference(req, c), ms };
}
