import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/gpu/tensor';
import { matmul, matmulShape } from '../src/kernels/matmul';
import { gammaF32, matmulAbsReference, matmulReference } from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { testGpu } from './gpuContext';

/**
 * Worst violation of the forward error bound |ĉ − c| ≤ γ_K·Σ|a||b| (+ a floor for exact
 * zeros), as a ratio: ≤ 1 means every element is within the bound any correct f32
 * summation order meets. A wrong index, a missed tile or a dropped K-step gives errors of
 * order Σ|a||b| itself, i.e. ratios ≫ 1.
 */
function worstBoundRatio(
  got: Float32Array,
  want: Float64Array,
  absDot: Float64Array,
  k: number,
): number {
  let worst = 0;
  const gamma = gammaF32(k);
  for (let i = 0; i < want.length; i++) {
    const bound = gamma * absDot[i] + 1e-30;
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / bound);
  }
  return worst;
}

async function check(aShape: number[], bShape: number[], seed: number) {
  const ctx = await testGpu();
  const s = matmulShape(aShape, bShape);
  const aData = randomF32(
    aShape.reduce((x, y) => x * y, 1),
    seed,
  );
  const bData = randomF32(
    bShape.reduce((x, y) => x * y, 1),
    seed + 1,
  );
  const a = Tensor.fromArray(ctx, aShape, 'f32', aData, 'A');
  const b = Tensor.fromArray(ctx, bShape, 'f32', bData, 'B');
  const c = await matmul(ctx, a, b);
  const got = await c.download();
  const want = matmulReference(aData, bData, s);
  expect(got.length).toBe(want.length);
  expect(worstBoundRatio(got, want, matmulAbsReference(aData, bData, s), s.k)).toBeLessThanOrEqual(
    1,
  );
  for (const t of [a, b, c]) t.destroy();
}

describe('matmul.wgsl against the float64 reference', () => {
  const shapes: Array<[string, number[], number[]]> = [
    ['1×1×1', [1, 1], [1, 1]],
    ['17×33×65 (no dimension a tile multiple)', [17, 65], [65, 33]],
    ['64×64×64 (exactly one tile)', [64, 64], [64, 64]],
    ['65×63×17 (one past / one short of a tile)', [65, 17], [17, 63]],
    ['1×128×3 (single row)', [1, 3], [3, 128]],
    ['130×1×7 (single column)', [130, 7], [7, 1]],
    ['large K: 9×11×4099', [9, 4099], [4099, 11]],
    ['batched 3×19×23×29', [3, 19, 29], [3, 29, 23]],
    ['batched with shared B 5×7×33×9', [5, 7, 9], [9, 33]],
  ];
  for (const [name, aShape, bShape] of shapes) {
    it(name, () => check(aShape, bShape, aShape.length * 1000 + aShape[0]));
  }

  it('fails the bound when the result is wrong (the check can fail)', () => {
    const s = matmulShape([2, 3], [3, 2]);
    const a = randomF32(6, 1);
    const b = randomF32(6, 2);
    const want = matmulReference(a, b, s);
    const wrong = Float32Array.from(want);
    wrong[3] += 1e-3;
    expect(worstBoundRatio(wrong, want, matmulAbsReference(a, b, s), s.k)).toBeGreaterThan(1);
  });

  it('rejects mismatched shapes with a clear message', () => {
    expect(() => matmulShape([2, 3], [4, 2])).toThrow(/inner dimensions differ/);
    expect(() => matmulShape([2, 3, 4], [3, 4, 5])).toThrow(/batch of B/);
  });
});
