/**
 * Float64 reference of one torch.optim.AdamW step (amsgrad=False, maximize=False,
 * single-tensor path of torch 2.x), applied to gradients multiplied by a clip scale as
 * torch.nn.utils.clip_grad_norm_ would leave them. See `shaders/adamw.wgsl`.
 */

export interface AdamWHyperparameters {
  beta1: number;
  beta2: number;
  eps: number;
}

/**
 * AIM's pre-training recipe (ml-l3m): β = (0.9, 0.95); eps = 1e-8 (torch's default). Stated
 * here and again in src/kernels/adamw.ts on purpose: the oracle shares no constant with the
 * kernel it checks, so a wrong default there fails the tests.
 */
export const AIM_ADAMW: AdamWHyperparameters = { beta1: 0.9, beta2: 0.95, eps: 1e-8 };

export interface AdamWState {
  param: Float64Array;
  expAvg: Float64Array;
  expAvgSq: Float64Array;
}

export interface AdamWStepConfig extends Partial<AdamWHyperparameters> {
  /** 1 for the first step (torch increments `state['step']` before using it). */
  step: number;
  lr: number;
  weightDecay: number;
  /** The gradients are first multiplied by this (1 = no clipping). */
  clipScale?: number;
}

/** The step-dependent scalars torch computes in Python (float64) for step t. */
export function adamWStepScalars(
  step: number,
  lr: number,
  hp: AdamWHyperparameters = AIM_ADAMW,
): { stepSize: number; biasCorrection2Sqrt: number } {
  const biasCorrection1 = 1 - hp.beta1 ** step;
  const biasCorrection2 = 1 - hp.beta2 ** step;
  return { stepSize: lr / biasCorrection1, biasCorrection2Sqrt: Math.sqrt(biasCorrection2) };
}

/** One step in torch's order; returns the new state (the input is not modified). */
export function adamWStepReference(
  state: AdamWState,
  grad: ArrayLike<number>,
  cfg: AdamWStepConfig,
): AdamWState {
  const hp = { ...AIM_ADAMW, ...cfg };
  const { stepSize, biasCorrection2Sqrt } = adamWStepScalars(cfg.step, cfg.lr, hp);
  const scale = cfg.clipScale ?? 1;
  const n = state.param.length;
  const param = new Float64Array(n);
  const expAvg = new Float64Array(n);
  const expAvgSq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = grad[i] * scale;
    // param.mul_(1 − lr·wd): decoupled decay on the old value, before the Adam update.
    const p = state.param[i] * (1 - cfg.lr * cfg.weightDecay);
    const m = state.expAvg[i] + (1 - hp.beta1) * (g - state.expAvg[i]);
    const v = hp.beta2 * state.expAvgSq[i] + (1 - hp.beta2) * g * g;
    const denom = Math.sqrt(v) / biasCorrection2Sqrt + hp.eps;
    param[i] = p - (stepSize * m) / denom;
    expAvg[i] = m;
    expAvgSq[i] = v;
  }
  return { param, expAvg, expAvgSq };
}
