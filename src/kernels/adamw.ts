/**
 * AdamW on the GPU (`shaders/adamw.wgsl`), torch.optim.AdamW semantics, optionally reading
 * the global-norm clip scale written by `prepareGradNorm` (no CPU round trip).
 *
 * Parameters are given as ranges: a whole tensor, or slices of one (e.g. one slice with decay
 * and one without). Ranges whose four tensors (param, grad, exp_avg, exp_avg_sq) lie in the
 * same four buffers at the same offsets — the parameter, gradient and moment arenas
 * (src/model/allocation.ts) — share ONE dispatch: a table lists their blocks of ≤ ADAMW_BLOCK
 * values, each with its range's weight decay, so the whole model is one dispatch per arena
 * buffer instead of one per tensor. All dispatches read one step uniform — lr,
 * lr/(1 − β1^t), sqrt(1 − β2^t), eps, the β's — that `writeAdamWStep` rewrites with
 * queue.writeBuffer, so bind groups are built once:
 *
 *   const step = createAdamWStep(ctx);
 *   const dispatches = await prepareAdamW(ctx, { params, step, clipScale });
 *   each step: writeAdamWStep(ctx, step, t, lr(t)); record [...gradNorm, ...dispatches]
 */
import type { GpuContext } from '../gpu/context';
import {
  createDispatch,
  foldedGrid,
  streamCost,
  type BindingResource,
  type PreparedDispatch,
} from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { packUniform } from '../gpu/uniforms';
import type { AdamWHyperparameters } from '../reference/adamw';
import { requireDistinct, requireDtype, requireOneValue, requireSameSize } from './checks';
import { FLAT_WORKGROUP, flatKernel } from './flat';

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
    // Positions in the whole buffer: views of one arena must not overlap either.
    list.push({ ...ranges[index], offset: p.param.byteOffset / 4 + ranges[index].offset, index });
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

/** Values one table entry (one workgroup) covers: 4 per invocation (PER_THREAD in adamw.wgsl). */
export const ADAMW_BLOCK = 4 * FLAT_WORKGROUP;

/** Bytes of one table entry (first value, count, weight decay, padding). */
export const ADAMW_TABLE_ENTRY_BYTES = 16;

/** Table entries of ranges of these lengths: ⌈length / ADAMW_BLOCK⌉ each (what memory.ts counts). */
export function adamWTableEntries(lengths: readonly number[]): number {
  return lengths.reduce((n, length) => n + Math.ceil(length / ADAMW_BLOCK), 0);
}

/** Ranges that one dispatch updates: same four buffers, and values at the same positions. */
interface AdamWGroup {
  bindings: [BindingResource, BindingResource, BindingResource, BindingResource];
  buffers: readonly GPUBuffer[];
  /** One dispatch per range when the four tensors' offsets differ (bound as views). */
  shared: boolean;
  entries: Array<{ start: number; count: number; weightDecay: number }>;
  values: number;
}

function groupRanges(params: readonly AdamWParam[], ranges: readonly Range[]): AdamWGroup[] {
  const groups: AdamWGroup[] = [];
  params.forEach((p, i) => {
    const tensors = [p.param, p.grad, p.expAvg, p.expAvgSq];
    const buffers = tensors.map((t) => t.buffer);
    const shared = tensors.every((t) => t.byteOffset === p.param.byteOffset);
    let group = shared
      ? groups.find((g) => g.shared && g.buffers.every((b, k) => b === buffers[k]))
      : undefined;
    if (!group) {
      group = {
        // A shared group binds the whole buffers (values at their position in the buffer);
        // a lone range with unequal offsets binds its four views (positions in the tensor).
        bindings: shared
          ? [buffers[0], buffers[1], buffers[2], buffers[3]]
          : [p.param.binding, p.grad.binding, p.expAvg.binding, p.expAvgSq.binding],
        buffers,
        shared,
        entries: [],
        values: 0,
      };
      groups.push(group);
    }
    const base = (shared ? p.param.byteOffset / 4 : 0) + ranges[i].offset;
    const { length } = ranges[i];
    for (let start = 0; start < length; start += ADAMW_BLOCK)
      group.entries.push({
        start: base + start,
        count: Math.min(ADAMW_BLOCK, length - start),
        weightDecay: p.weightDecay,
      });
    group.values += length;
  });
  return groups.filter((g) => g.entries.length > 0);
}

function tableBuffer(ctx: GpuContext, label: string, group: AdamWGroup): GPUBuffer {
  const bytes = new ArrayBuffer(group.entries.length * ADAMW_TABLE_ENTRY_BYTES);
  const view = new DataView(bytes);
  group.entries.forEach(({ start, count, weightDecay }, i) => {
    const at = i * ADAMW_TABLE_ENTRY_BYTES;
    view.setUint32(at, start, true);
    view.setUint32(at + 4, count, true);
    view.setFloat32(at + 8, weightDecay, true);
  });
  const buffer = ctx.device.createBuffer({
    label,
    size: bytes.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  ctx.device.queue.writeBuffer(buffer, 0, bytes);
  return buffer;
}

/**
 * The AdamW dispatches of `params`: one per group of ranges in the same four buffers at the
 * same offsets (one per arena buffer for a model; one per range for tensors of their own),
 * all reading `step` (set it with writeAdamWStep before each recording). Releasing the
 * dispatches frees their block tables, not the step.
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
  const clip = clipScale?.binding ?? ctx.placeholder('read');
  const limit = opts.gridLimit ?? ctx.choices.limits.maxComputeWorkgroupsPerDimension;
  return groupRanges(params, ranges).map((group, g) => {
    const table = tableBuffer(ctx, `adamw blocks ${g}`, group);
    return createDispatch(
      ctx,
      kernel,
      [...group.bindings, step.buffer, table, clip],
      foldedGrid(group.entries.length, limit),
      [table],
      // Reads parameter, gradient and both moments; writes all but the gradient.
      streamCost(group.values, { read: 4, written: 3, flops: 16 }),
    );
  });
}
