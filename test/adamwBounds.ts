/**
 * Inputs and forward error bounds of AdamW steps, shared by the per-tensor tests
 * (adamw.test.ts) and the arena tests (optimizerArena.test.ts), which check the same float64
 * reference with the same bounds.
 */
import { AIM_ADAMW, adamWStepScalars, type AdamWState } from '../src/reference/adamw';
import { mulberry32 } from '../src/reference/random';

export const u = 2 ** -24;

/**
 * Gradients spanning the regimes AdamW treats differently: ordinary values, exact zeros
 * (m = v = 0: the update is 0/eps), and tiny values (|g| ≈ 1e-9 < eps = 1e-8, where eps
 * dominates the denominator, so a misplaced eps shows).
 */
export function makeGradient(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, (_, i) => {
    const sign = next() < 0.5 ? -1 : 1;
    if (i % 7 === 3) return 0;
    if (i % 7 === 5) return sign * 1e-9 * (1 + next());
    return sign * (0.01 + next());
  });
}

export function makeParams(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => 2 * next() - 1);
}

export interface Bounds {
  param: Float64Array;
  expAvg: Float64Array;
  expAvgSq: Float64Array;
}

/**
 * Per-value forward error bounds for one f32 step, propagated from the previous bounds.
 * Model: + − × are correctly rounded (error ≤ u relative, u = 2⁻²⁴); WGSL's division is
 * within 2.5 ulp (≤ 5u), its sqrt as accurate as 1/inverseSqrt (≤ 9u); every f32 constant
 * (lr, wd, 1 − β1, β2, 1 − β2, lr/(1 − β1^t), sqrt(1 − β2^t), eps) carries ≤ u. Errors are
 * bounded with the exact (reference) magnitudes; second-order terms are left to the factor 2
 * the comparison allows. `clipError` bounds |ŝ − s| of the clip scale (0 when it is exact).
 */
export function stepBound(
  prev: AdamWState,
  next: AdamWState,
  b: Bounds,
  grad: ArrayLike<number>,
  cfg: { step: number; lr: number; weightDecay: number; clipScale?: number; clipError?: number },
): Bounds {
  const { beta1, beta2 } = AIM_ADAMW;
  const w1 = 1 - beta1;
  const w2 = 1 - beta2;
  const s = cfg.clipScale ?? 1;
  const { stepSize, biasCorrection2Sqrt } = adamWStepScalars(cfg.step, cfg.lr);
  const n = grad.length;
  const out: Bounds = {
    param: new Float64Array(n),
    expAvg: new Float64Array(n),
    expAvgSq: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const g = grad[i] * s;
    const eg = Math.abs(grad[i]) * (cfg.clipError ?? 0) + u * Math.abs(g);
    const m0 = prev.expAvg[i];
    const m = next.expAvg[i];
    const v = next.expAvgSq[i];
    const em = (1 - w1) * b.expAvg[i] + w1 * eg + 3 * u * w1 * Math.abs(g - m0) + u * Math.abs(m);
    const ev =
      beta2 * b.expAvgSq[i] +
      2 * w2 * Math.abs(g) * eg +
      2 * u * beta2 * prev.expAvgSq[i] +
      3 * u * w2 * g * g +
      u * v;
    const root = Math.sqrt(v);
    const eRoot = Math.sqrt(v + ev) - root + 9 * u * root;
    const q = root / biasCorrection2Sqrt;
    const eq = eRoot / biasCorrection2Sqrt + 6 * u * q;
    const d = q + AIM_ADAMW.eps;
    const ed = eq + u * d;
    if (!(ed < d / 2)) throw new Error(`ill-conditioned test value ${i}: denominator error ${ed}`);
    const update = (stepSize * m) / d;
    const eUpdate =
      (stepSize * (em + 2 * u * Math.abs(m))) / (d - ed) +
      (stepSize * Math.abs(m) * ed) / (d * (d - ed)) +
      5 * u * Math.abs(update);
    const decay = 1 - cfg.lr * cfg.weightDecay;
    const p0 = prev.param[i];
    const eDecayed = decay * b.param[i] + Math.abs(p0) * 4 * u + u * Math.abs(p0 * decay);
    out.param[i] = eDecayed + eUpdate + u * Math.abs(next.param[i]);
    out.expAvg[i] = em;
    out.expAvgSq[i] = ev;
  }
  return out;
}

/** max over values of |gpu − ref| / (2·bound), over p, m and v (≤ 1 passes). */
export function worstBoundRatio(
  got: { param: Float32Array; expAvg: Float32Array; expAvgSq: Float32Array },
  want: AdamWState,
  b: Bounds,
): number {
  let worst = 0;
  for (const key of ['param', 'expAvg', 'expAvgSq'] as const) {
    for (let i = 0; i < want[key].length; i++) {
      const err = Math.abs(got[key][i] - want[key][i]);
      if (Number.isNaN(err)) return Infinity;
      worst = Math.max(worst, err / (2 * b[key][i] + 1e-45));
    }
  }
  return worst;
}
