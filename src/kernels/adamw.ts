/**
 * AdamW on the GPU (`shaders/adamw.wgsl`), torch.optim.AdamW semantics, optionally reading
 * the global-norm clip scale written by `prepareGradNorm` (no CPU round trip).
 *
 * Parameters are given as ranges: a whole tensor (one dispatch per parameter tensor), or
 * slices of a flat parameter buffer (one dispatch per slice, e.g. one slice with decay and
 * one without). All dispatches share one step uniform — lr, lr/(1 − β1^t), sqrt(1 − β2^t)
 * — that `setStep` rewrites with queue.writeBuffer, so bind groups are built once:
 *
 *   const opt = await prepareAdamW(ctx, params, { clipScale });
 *   each step: opt.setStep(t, lr(t)); record [...gradNorm, ...opt.dispatches]
 */
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  foldedGrid,
  releaseDispatch,
  type PreparedDispatch,
} from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { packUniform, uniformBuffer } from '../gpu/uniforms';

export interface AdamWHyperparameters {
  beta1: number;
  beta2: number;
  eps: number;
}

/** AIM's pre-training recipe (ml-l3m): β = (0.9, 0.95); eps = 1e-8 (torch's default). */
export const AIM_ADAMW: AdamWHyperparameters = { beta1: 0.9, beta2: 0.95, eps: 1e-8 };

/** Invocations per workgroup (one per value; matches THREADS in adamw.wgsl). */
const ADAMW_WORKGROUP = 256;

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

export interface AdamWOptions extends Partial<AdamWHyperparameters> {
  /** f32 [1] from prepareGradNorm: gradients are multiplied by it; a NaN/Inf skips the step. */
  clipScale?: Tensor<'f32'>;
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

export class AdamW {
  private stepNumber = 0;

  constructor(
    private readonly ctx: GpuContext,
    /** One per range, in the order given; record them all each step (any order). */
    readonly dispatches: readonly PreparedDispatch[],
    private readonly stepUniform: GPUBuffer,
    readonly hyperparameters: AdamWHyperparameters,
  ) {}

  /** The step last set (0 before the first `setStep`). */
  get step(): number {
    return this.stepNumber;
  }

  /**
   * Sets the step number t (1 for the first update, as torch counts) and learning rate for
   * the next recording of `dispatches`. Call before every step; writes one uniform buffer.
   */
  setStep(step: number, lr: number): void {
    if (!Number.isInteger(step) || step < 1)
      throw new RangeError(`AdamW.setStep: step must be an integer ≥ 1, got ${step}`);
    if (!Number.isFinite(lr) || lr < 0)
      throw new RangeError(`AdamW.setStep: lr must be finite and ≥ 0, got ${lr}`);
    this.ctx.device.queue.writeBuffer(
      this.stepUniform,
      0,
      packAdamWStep(step, lr, this.hyperparameters),
    );
    this.stepNumber = step;
  }

  /** Frees the uniforms (not the parameter or moment tensors). */
  destroy(): void {
    this.dispatches.forEach(releaseDispatch);
    this.stepUniform.destroy();
  }
}

/** The step uniform's bytes (fields in the order of StepParams in adamw.wgsl). */
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

function checkHyperparameters(hp: AdamWHyperparameters): void {
  for (const name of ['beta1', 'beta2'] as const) {
    if (!(hp[name] >= 0 && hp[name] < 1))
      throw new RangeError(`AdamW: ${name} must be in [0, 1), got ${hp[name]}`);
  }
  if (!(hp.eps > 0)) throw new RangeError(`AdamW: eps must be > 0, got ${hp.eps}`);
}

interface Range {
  offset: number;
  length: number;
}

function checkParam(p: AdamWParam, index: number, clipScale?: Tensor<'f32'>): Range {
  const what = `AdamW param ${index}`;
  const offset = p.offset ?? 0;
  const length = p.length ?? p.param.size - offset;
  for (const [name, t] of [
    ['grad', p.grad],
    ['expAvg', p.expAvg],
    ['expAvgSq', p.expAvgSq],
  ] as const) {
    if (t.size !== p.param.size)
      throw new RangeError(`${what}: ${name} has ${t.size} values, param has ${p.param.size}`);
  }
  for (const t of [p.param, p.grad, p.expAvg, p.expAvgSq])
    if (t.dtype !== 'f32') throw new RangeError(`${what}: f32 tensors only`);
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0)
    throw new RangeError(`${what}: bad range offset ${offset}, length ${length}`);
  if (offset + length > p.param.size)
    throw new RangeError(
      `${what}: range [${offset}, ${offset + length}) exceeds the ${p.param.size}-value tensor`,
    );
  const buffers = [p.param, p.grad, p.expAvg, p.expAvgSq, clipScale]
    .filter((t) => t !== undefined)
    .map((t) => t.buffer);
  if (new Set(buffers).size !== buffers.length)
    throw new RangeError(
      `${what}: param, grad, expAvg, expAvgSq and clipScale must be distinct buffers`,
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
 * Prepares one AdamW dispatch per parameter range. Call `setStep(t, lr)` before each
 * recording of `dispatches`; `destroy()` frees the uniforms.
 */
export async function prepareAdamW(
  ctx: GpuContext,
  params: readonly AdamWParam[],
  opts: AdamWOptions = {},
): Promise<AdamW> {
  const hp: AdamWHyperparameters = {
    beta1: opts.beta1 ?? AIM_ADAMW.beta1,
    beta2: opts.beta2 ?? AIM_ADAMW.beta2,
    eps: opts.eps ?? AIM_ADAMW.eps,
  };
  checkHyperparameters(hp);
  if (opts.clipScale && opts.clipScale.size < 1)
    throw new RangeError('AdamW: clipScale needs one value');
  const ranges = params.map((p, i) => checkParam(p, i, opts.clipScale));
  checkOverlaps(params, ranges);

  const constants = opts.clipScale ? { HAS_CLIP_SCALE: 1 } : undefined;
  const kernel = await ctx.kernels.get({ shader: 'adamw', constants });
  const stepUniform = ctx.device.createBuffer({
    label: `${kernel.name} step`,
    size: 32,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  // Until setStep: step 1 with lr 0 (parameters unchanged, moments would still move).
  ctx.device.queue.writeBuffer(stepUniform, 0, packAdamWStep(1, 0, hp));
  const limit = opts.gridLimit ?? ctx.capabilities.limits.maxComputeWorkgroupsPerDimension;
  const clip = opts.clipScale?.buffer ?? ctx.placeholder('read');
  const dispatches = params.map((p, i) => {
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
        stepUniform,
        rangeUniform,
        clip,
      ],
      foldedGrid(Math.ceil(ranges[i].length / ADAMW_WORKGROUP), limit),
      [rangeUniform],
    );
  });
  return new AdamW(ctx, dispatches, stepUniform, hp);
}
