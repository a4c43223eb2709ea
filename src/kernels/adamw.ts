/**
 * AdamW on the GPU (`shaders/adamw.wgsl`, a flat kernel), torch.optim.AdamW semantics,
 * optionally reading the global-norm clip scale written by `prepareGradNorm` (no CPU round
 * trip).
 *
 * Parameters are given as ranges: a whole tensor (one dispatch per parameter tensor), or
 * slices of a flat parameter buffer (one dispatch per slice, e.g. one slice with decay and
 * one without). All dispatches read one step uniform — lr, lr/(1 − β1^t), sqrt(1 − β2^t),
 * eps, the β's — that `writeAdamWStep` rewrites with queue.writeBuffer, so bind groups are
 * built once:
 *
 *   const step = createAdamWStep(ctx);
 *   const dispatches = await prepareAdamW(ctx, { params, step, clipScale });
 *   each step: writeAdamWStep(ctx, step, t, lr(t)); record [...gradNorm, ...dispatches]
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, type PreparedDispatch, streamCost } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { packUniform, uniformBuffer } from '../gpu/uniforms';
import type { AdamWHyperparameters } from '../reference/adamw';
import { requireDistinct, requireDtype, requireOneValue, requireSameSize } from './checks';
import { flatGridFor, flatKernel } from './flat';

export type { AdamWHyperparameters } from '../reference/adamw';

/** AIM's pre-training recipe (ml-l3m): β = (0.9, 0.95); eps = 1e-8 (torch's default). */
export const AIM_ADAMW: AdamWHyperparameters = { beta1: 0.9, beta2: 0.95, eps: 1e-8 };

/** The step uniform every AdamW dispatch of one optimizer reads; the caller destroys it. */
export interface AdamWStep {
  readonly buffer: GPUBuffer;
  readonly hyperparameters: AdamWHyperparameters;
}

/** The step's bytes (fields in the order of StepParams in adamw.wgsl). */
function packAdamWStep(step: number, lr: number, hp: AdamWHyperparameters): ArrayBuffer {
  // As torch: bias corrections and step size in float64 (Python floats), rounded once to f32.
  const stepSize = lr / (1 - hp.beta1 ** step);
  const biasCorrection2Sqrt = Math.sqrt(1 - hp.beta2 ** step);
  return packUniform([
    ['f32', lr],
    ['f32', stepSize],
    ['f32', biasCorrection2Sqrt],
    ['f32', hp.eps],
    ['f32', 1 - hp.beta1],
    ['f32', hp.beta2],
    ['f32', 1 - hp.beta2],
    ['u32', 0],
  ]);
}

/**
 * A step uniform for these hyperparameters (AIM's by default). Until the first
 * `writeAdamWStep` it holds step 1 with lr 0 (parameters unchanged, moments would move).
 */
export function createAdamWStep(
  ctx: GpuContext,
  hyperparameters: Partial<AdamWHyperparameters> = {},
): AdamWStep {
  const hp: AdamWHyperparameters = { ...AIM_ADAMW, ...hyperparameters };
  for (const name of ['beta1', 'beta2'] as const) {
    if (!(hp[name] >= 0 && hp[name] < 1))
      throw new RangeError(`AdamW: ${name} must be in [0, 1), got ${hp[name]}`);
  }
  if (!(hp.eps > 0)) throw new RangeError(`AdamW: eps must be > 0, got ${hp.eps}`);
  const buffer = ctx.device.createBuffer({
    label: 'adamw step',
    size: 32,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  ctx.device.queue.writeBuffer(buffer, 0, packAdamWStep(1, 0, hp));
  return { buffer, hyperparameters: hp };
}

/**
 * Sets the step number t (1 for the first update, as torch counts) and learning rate for
 * the next recording of the AdamW dispatches. Call before every step; writes 32 bytes.
 */
export function writeAdamWStep(ctx: GpuContext, s: AdamWStep, step: number, lr: number): void {
  if (!Number.isInteger(step) || step < 1)
    throw new RangeError(`AdamW: step must be an integer ≥ 1, got ${step}`);
  if (!Number.isFinite(lr) || lr < 0)
    throw new RangeError(`AdamW: lr must be finite and ≥ 0, got ${lr}`);
  ctx.device.queue.writeBuffer(s.buffer, 0, packAdamWStep(step, lr, s.hyperparameters));
}

export interface AdamWParam {
  param: Tensor<'f32'>;
  grad: Tensor<'f32'>;
  /** First moment (torch's exp_avg), same size as `param`, zero before the first step. */
  expAvg: Tensor<'f32'>;
  /** Second moment (exp_avg_sq), same size as `param`, zero before the first step. */
  expAvgSq: Tensor<'f32'>;
  /** Decoupled weight decay: 0.05 in AIM, 0 for biases, positional embeddings, norm weights. */
  weightDecay: number;
  /** First value of the range (flat buffers). Default 0. */
  offset?: number;
  /** Values in the range. Default: the rest of the tensor. */
  length?: number;
}

export interface AdamWTensors {
  /** One dispatch per range, in this order; record them all each step (any order). */
  params: readonly AdamWParam[];
  step: AdamWStep;
  /** f32 [1] from prepareGradNorm: gradients are multiplied by it; a NaN/Inf skips the step. */
  clipScale?: Tensor<'f32'>;
}

export interface AdamWOptions {
  /** Workgroups per grid dimension before folding (tests lower it; default: the device's). */
  gridLimit?: number;
}

/** Zeroed first and second moments for a parameter tensor. */
export function createAdamWState(
  ctx: GpuContext,
  param: Tensor<'f32'>,
  label = 'param',
): { expAvg: Tensor<'f32'>; expAvgSq: Tensor<'f32'> } {
  return {
    expAvg: Tensor.empty(ctx, param.shape, 'f32', `${label} exp_avg`),
    expAvgSq: Tensor.empty(ctx, param.shape, 'f32', `${label} exp_avg_sq`),
  };
}

interface Range {
  offset: number;
  length: number;
}

function checkParam(p: AdamWParam, index: number, clipScale?: Tensor<'f32'>): Range {
  const what = `AdamW param ${index}`;
  const offset = p.offset ?? 0;
  const length = p.length ?? p.param.size - offset;
  const { param, grad, expAvg, expAvgSq } = p;
  for (const [name, t] of Object.entries({ param, grad, expAvg, expAvgSq })) {
    requireDtype(what, name, t, 'f32');
    requireSameSize(what, name, t, 'param', param);
  }
  requireDistinct(what, { param, expAvg, expAvgSq }, { grad, clipScale });
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0)
    throw new RangeError(`${what}: bad range offset ${offset}, length ${length}`);
  if (offset + length > p.param.size)
    throw new RangeError(
      `${what}: range [${offset}, ${offset + length}) exceeds the ${p.param.size}-value tensor`,
    );
  if (!Number.isFinite(p.weightDecay) || p.weightDecay < 0)
    throw new RangeError(`${what}: weightDecay must be finite and ≥ 0, got ${p.weightDecay}`);
  return { offset, length };
}

/** Ranges of one buffer must not overlap: an overlapping value would be updated twice. */
function checkOverlaps(params: readonly AdamWParam[], ranges: readonly Range[]): void {
  const byBuffer = new Map<GPUBuffer, Array<Range & { index: number }>>();
  params.forEach((p, index) => {
    const list = byBuffer.get(p.param.buffer) ?? [];
    list.push({ ...ranges[index], index });
    byBuffer.set(p.param.buffer, list);
  });
  for (const list of byBuffer.values()) {
    list.sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1];
      if (list[i].offset < prev.offset + prev.length)
        throw new RangeError(
          `AdamW: params ${prev.index} and ${list[i].index} overlap in the same buffer`,
        );
    }
  }
}

/**
 * One AdamW dispatch per parameter range, all reading `step` (set it with writeAdamWStep
 * before each recording). Releasing the dispatches frees their range uniforms, not the step.
 */
export async function prepareAdamW(
  ctx: GpuContext,
  { params, step, clipScale }: AdamWTensors,
  opts: AdamWOptions = {},
): Promise<PreparedDispatch[]> {
  requireOneValue('AdamW', 'clipScale', clipScale);
  const ranges = params.map((p, i) => checkParam(p, i, clipScale));
  checkOverlaps(params, ranges);

  const constants = clipScale ? { HAS_CLIP_SCALE: 1 } : undefined;
  const kernel = await flatKernel(ctx, { shader: 'adamw', constants });
  const clip = clipScale?.buffer ?? ctx.placeholder('read');
  return params.map((p, i) => {
    const rangeUniform = uniformBuffer(ctx, `${kernel.name} range ${i}`, [
      ['u32', ranges[i].offset],
      ['u32', ranges[i].length],
      ['f32', p.weightDecay],
    ]);
    return createDispatch(
      ctx,
      kernel,
      [
        p.param.buffer,
        p.grad.buffer,
        p.expAvg.buffer,
        p.expAvgSq.buffer,
        step.buffer,
        rangeUniform,
        clip,
      ],
      flatGridFor(ctx, ranges[i].length, opts.gridLimit),
      [rangeUniform],
      // Reads parameter, gradient and both moments; writes all but the gradient.
      streamCost(ranges[i].length, { read: 4, written: 3, flops: 16 }),
    );
  });
}
