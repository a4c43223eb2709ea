/**
 * The matmul check shared by test/matmul.test.ts and test/matmulSplitK.test.ts: runs
 * op(A)·op(B) (+ epilogue) on the GPU with seeded data and compares it with the float64
 * reference (src/reference/matmul.ts).
 */
import { Tensor } from '../src/gpu/tensor';
import {
  matmul,
  matmulOutputShape,
  matmulShape,
  type MatmulOptions,
  type MatmulTensors,
  type MatmulTile,
} from '../src/kernels/matmul';
import {
  epilogueReference,
  gammaF32,
  matmulAbsReference,
  matmulReference,
} from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

export const size = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);

/**
 * Runs op(A)·op(B) (+ epilogue) on the GPU and returns max error / tolerance (≤ 1 passes).
 * Tolerance: the product obeys |ĉ − c| ≤ γ_K·Σ|a||b| for any summation order (Higham §3.1).
 * GELU's slope is ≤ 1.13 in magnitude, so the product's error grows by at most 1.13 through
 * it; erfc's approximation (fractional error 1.2e-7) and the few f32 roundings of the
 * epilogue add ≤ 4 ulp-scale relative error, covered by 6e-7·(|c| + |terms|).
 */
/** Which epilogue inputs a case uses; the test makes seeded data for each. */
export interface MatmulCase {
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  activation?: MatmulOptions['activation'];
  residual?: boolean;
  accumulate?: boolean;
  tile?: MatmulTile;
  stages?: MatmulOptions['stages'];
  splitK?: MatmulOptions['splitK'];
}

/** The worst error / tolerance (≤ 1 passes) and the GPU's output. */
export async function checkMatmul(
  aShape: number[],
  bShape: number[],
  seed: number,
  opts: MatmulCase = {},
) {
  const ctx = await testGpu();
  const s = matmulShape(aShape, bShape, opts);
  const outShape = matmulOutputShape(s, aShape.length === 3);
  const aData = randomF32(size(aShape), seed);
  const bData = randomF32(size(bShape), seed + 1);
  const a = Tensor.fromArray(ctx, aShape, 'f32', aData, 'A');
  const b = Tensor.fromArray(ctx, bShape, 'f32', bData, 'B');
  const extras: Tensor<'f32'>[] = [];
  const make = (shape: number[], data: Float32Array, label: string) => {
    const t = Tensor.fromArray(ctx, shape, 'f32', data, label);
    extras.push(t);
    return t;
  };
  const biasData = randomF32(s.n, seed + 2);
  const residualData = randomF32(size(outShape), seed + 3);
  const previousData = randomF32(size(outShape), seed + 4);
  const auxData = randomF32(size(outShape), seed + 5, -3, 3);
  const tensors: Omit<MatmulTensors, 'c'> & { c?: Tensor<'f32'> } = { a, b };
  const gpuOpts: MatmulOptions = {
    transA: opts.transA,
    transB: opts.transB,
    activation: opts.activation,
    accumulate: opts.accumulate,
    tile: opts.tile,
    stages: opts.stages,
    splitK: opts.splitK,
  };
  if (opts.bias) tensors.bias = make([s.n], biasData, 'bias');
  if (opts.residual) tensors.residual = make(outShape, residualData, 'residual');
  if (opts.accumulate) tensors.c = make(outShape, previousData, 'C (previous)');
  if (opts.activation && opts.activation !== 'none') {
    tensors.aux = make(
      outShape,
      opts.activation === 'gelu-grad' ? auxData : new Float32Array(size(outShape)),
      'aux',
    );
  }
  const c = await matmul(ctx, tensors, gpuOpts);
  const got = await c.download();
  const product = matmulReference(aData, bData, s);
  const absDot = matmulAbsReference(aData, bData, s);
  const { c: want, preActivation } = epilogueReference(product, s.n, {
    bias: opts.bias ? biasData : undefined,
    activation: opts.activation,
    aux: auxData,
    residual: opts.residual ? residualData : undefined,
    previous: opts.accumulate ? previousData : undefined,
  });
  const gamma = gammaF32(s.k);
  const hasEpilogue = Boolean(
    opts.bias || opts.residual || opts.accumulate || (opts.activation ?? 'none') !== 'none',
  );
  const tol = (i: number) =>
    1.13 * gamma * absDot[i] +
    (hasEpilogue ? 6e-7 * (Math.abs(want[i]) + Math.abs(product[i]) + 1) : 0) +
    1e-30;
  const ratio = worstRatio(got, want, tol);
  let auxRatio = 0;
  if (preActivation) {
    const gotPre = await tensors.aux!.download();
    auxRatio = worstRatio(
      gotPre,
      preActivation,
      (i) => gamma * absDot[i] + 2e-7 * (Math.abs(preActivation[i]) + 1),
    );
  }
  for (const t of [a, b, c, ...extras]) if (t !== c || !opts.accumulate) t.destroy();
  return { ratio: Math.max(ratio, auxRatio), got };
}
