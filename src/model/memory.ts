/**
 * GPU memory of training one AIM configuration at one batch size, computed WITHOUT
 * allocating anything: the buffers that `AimGpuModel.create` (gpuModel.ts, gpuBuffers.ts,
 * gpuTrunk.ts, gpuHead.ts), the Trainer's optimizer state (trainer.ts) and the kernel
 * wrappers' own scratch would allocate, listed one by one with the same shapes.
 *
 * Everything is allocated once, before the first step, and nothing is allocated during a
 * step (apart from an 8-byte readback), so the sum is the steady-state allocation of a
 * training run — what the device must hold, not counting the driver's own overhead.
 *
 * Categories:
 *  - parameters, gradients: one f32 tensor each per parameter (ParameterStore);
 *  - optimizer: AdamW's exp_avg and exp_avg_sq per parameter, the gradient norm and clip scale;
 *  - activations: every forward tensor the backward reads (gpuTrunk.ts / gpuHead.ts headers),
 *    plus the prediction, the targets and the losses;
 *  - gradientScratch: the backward's gradient buffers shared by all blocks, and d loss / d pred;
 *  - inputs: images, patch order, prefix lengths and the two sin-cos position tables;
 *  - kernelScratch: storage buffers owned by prepared dispatches (attention Δ, LayerNorm and
 *    column-sum partial sums, the loss's target count, the gradient norm's partial sums).
 * Uniform buffers (16–32 bytes per dispatch, a few KiB in all) are not counted.
 *
 * `modelBytes` (parameters + gradients + activations + gradientScratch + inputs) is exactly
 * `AimGpuModel.bytes`; test/memory.test.ts checks every category against real allocations.
 * Keep this file in step with those allocators: the test fails when one of them changes.
 */
import { columnSumPasses, COLUMN_SUM_TILE } from '../kernels/columnSum';
import { REDUCE_BLOCK, reducePassLengths } from '../kernels/reduceSum';
import { numPatches, patchValues, type AimConfig } from './config';
import { paramSize, paramSpecs, trunkParamSpecs } from './params';

/** Rows per partial sum of the LayerNorm parameter gradients (layernorm.ts's PARAM_CHUNK_ROWS). */
const LAYERNORM_PARAM_CHUNK_ROWS = 256;

const F32 = 4;

export const MEMORY_CATEGORIES = [
  'parameters',
  'gradients',
  'optimizer',
  'activations',
  'gradientScratch',
  'inputs',
  'kernelScratch',
] as const;

export type MemoryCategory = (typeof MEMORY_CATEGORIES)[number];

export interface BufferEstimate {
  /** The allocator's label (e.g. `block 3 fc1 pre-activation`). */
  label: string;
  bytes: number;
  category: MemoryCategory;
}

export interface TrainingMemory {
  config: string;
  batch: number;
  /** Bytes per category. */
  bytes: Record<MemoryCategory, number>;
  /** What `AimGpuModel.bytes` reports: everything but the optimizer and kernel scratch. */
  modelBytes: number;
  /** Every buffer counted here. */
  totalBytes: number;
  /** The largest single buffer: compare with maxStorageBufferBindingSize / maxBufferSize. */
  largestBuffer: { label: string; bytes: number };
  buffers: number;
}

export interface MemoryOptions {
  /** ml-aim's trunk alone (AimGpuModel's `trunkOnly`): no head, gradients, optimizer. */
  trunkOnly?: boolean;
}

/** Every buffer a training run of `config` at `batch` allocates (see the header). */
export function trainingBuffers(
  c: AimConfig,
  batch: number,
  opts: MemoryOptions = {},
): BufferEstimate[] {
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`memory estimate: batch ${batch} must be a positive integer`);
  const K = numPatches(c);
  const R = batch * K;
  const D = c.width;
  const P = patchValues(c);
  const trunkOnly = opts.trunkOnly ?? false;
  const out: BufferEstimate[] = [];
  const add = (category: MemoryCategory, label: string, values: number) =>
    out.push({ label, bytes: values * F32, category });
  const norm = (label: string, rows: number, dim: number) => {
    add('activations', `${label} out`, rows * dim);
    add('activations', `${label} mean`, rows);
    add('activations', `${label} rstd`, rows);
  };

  // gpuModel.ts: the inputs, then the ParameterStore.
  add('inputs', 'images', batch * c.channels * c.imageSize * c.imageSize);
  add('inputs', 'order', K);
  add('inputs', 'prefix lengths', batch);
  const specs = trunkOnly ? trunkParamSpecs(c) : paramSpecs(c);
  for (const spec of specs) {
    add('parameters', spec.name, paramSize(spec));
    if (!trunkOnly) add('gradients', `grad ${spec.name}`, paramSize(spec));
  }

  // gpuTrunk.ts allocateTrunk.
  const hidden = c.mlpRatio * D;
  norm('patch norm', R, D);
  add('activations', 'patches', R * P);
  add('activations', 'patch embedding', R * D);
  add('inputs', 'trunk sin-cos table', K * D);
  for (let l = 0; l < c.depth; l++) {
    norm(`block ${l} norm_1`, R, D);
    add('activations', `block ${l} qkv`, R * 3 * D);
    add('activations', `block ${l} attention`, R * D);
    add('activations', `block ${l} lse`, batch * c.heads * K);
    add('activations', `block ${l} x + attention`, R * D);
    norm(`block ${l} norm_2`, R, D);
    add('activations', `block ${l} fc1 pre-activation`, R * hidden);
    add('activations', `block ${l} gelu`, R * hidden);
    add('activations', `block ${l} output`, R * D);
  }
  if (trunkOnly) return out;

  // gpuHead.ts allocateHead.
  const W = c.head.width;
  const headHidden = c.mlpRatio * W;
  const extra = c.head.extraNormTerm;
  add('activations', 'head input', R * W);
  for (let j = 0; j < c.head.depth; j++) {
    if (extra) {
      norm(`head block ${j} norm_extra`, R, W);
      add('activations', `head block ${j} x + norm_extra(x)`, R * W);
    }
    norm(`head block ${j} norm`, R, W);
    add('activations', `head block ${j} fc1 pre-activation`, R * headHidden);
    add('activations', `head block ${j} gelu`, R * headHidden);
    add('activations', `head block ${j} output`, R * W);
  }
  norm('post_trunk_norm', R, D);
  add('inputs', 'head sin-cos table', K * W);
  norm('head norm', R, W);
  add('activations', 'prediction', R * P);
  add('activations', 'targets', R * P);
  add('activations', 'per-position loss', batch * K);
  add('activations', 'loss', 1);
  add('gradientScratch', 'd prediction', R * P);
  add('gradientScratch', 'head residual gradient', R * W);
  add('gradientScratch', 'head d pre-activation', R * headHidden);
  add('gradientScratch', 'head dn', R * W);
  if (extra) add('gradientScratch', 'head d norm_extra input', R * W);

  // gpuTrunk.ts allocateTrunkGrads.
  add('gradientScratch', 'trunk residual gradient', R * D);
  add('gradientScratch', 'trunk dh', R * D);
  add('gradientScratch', 'trunk d attention', R * D);
  add('gradientScratch', 'trunk d qkv', R * 3 * D);
  add('gradientScratch', 'trunk d pre-activation', R * hidden);

  // trainer.ts: AdamW moments per parameter, the gradient norm and the clip scale.
  for (const spec of specs) {
    add('optimizer', `${spec.name} exp_avg`, paramSize(spec));
    add('optimizer', `${spec.name} exp_avg_sq`, paramSize(spec));
  }
  add('optimizer', 'gradient norm', 1);
  add('optimizer', 'clip scale', 1);

  out.push(...kernelScratch(c, batch, specs.map(paramSize)));
  return out;
}

/** Storage buffers owned by the prepared dispatches of one training step. */
function kernelScratch(c: AimConfig, batch: number, paramSizes: number[]): BufferEstimate[] {
  const K = numPatches(c);
  const R = batch * K;
  const out: BufferEstimate[] = [];
  const add = (label: string, values: number) =>
    out.push({ label, bytes: Math.max(F32, values * F32), category: 'kernelScratch' });
  // columnSum.ts: every pass but the last writes [ceil(rows / chunkRows), cols] partials.
  const columnSum = (label: string, rows: number, cols: number) => {
    const passes = columnSumPasses(rows);
    for (let p = 0; p < passes.length - 1; p++)
      add(
        `${label} columnSum partials ${p}`,
        Math.ceil(passes[p] / COLUMN_SUM_TILE.chunkRows) * cols,
      );
  };
  // layernorm.ts backward with parameter gradients: two [chunks, dim] partials, each summed.
  const layerNormBackward = (label: string, dim: number) => {
    const chunks = Math.ceil(R / LAYERNORM_PARAM_CHUNK_ROWS);
    for (const what of ['dweight', 'dbias']) {
      add(`${label} ${what} partials`, chunks * dim);
      columnSum(`${label} ${what}`, chunks, dim);
    }
  };

  // Forward: the loss kernel's counted-targets N.
  add('patchMseLoss counted targets N', 1);
  // Head backward (gpuHead.ts), then the trunk's (gpuTrunk.ts).
  const W = c.head.width;
  columnSum('head.proj_out.bias', R, patchValues(c));
  layerNormBackward('head.norm', W);
  for (let j = c.head.depth - 1; j >= 0; j--) {
    layerNormBackward(`head.blocks.${j}.norm`, W);
    if (c.head.extraNormTerm) layerNormBackward(`head.blocks.${j}.norm_extra`, W);
  }
  columnSum('head.proj_in.bias', R, W);
  layerNormBackward('trunk.post_trunk_norm', c.width);
  for (let l = c.depth - 1; l >= 0; l--) {
    layerNormBackward(`trunk.blocks.${l}.norm_2`, c.width);
    add(`trunk.blocks.${l} attention Δ`, batch * c.heads * K);
    layerNormBackward(`trunk.blocks.${l}.norm_1`, c.width);
  }
  layerNormBackward('preprocessor.patchifier.norm', c.width);
  columnSum('preprocessor.patchifier.proj.bias', R, c.width);

  // gradNorm.ts: one partial sum of squares per REDUCE_BLOCK values of each gradient, Σg²,
  // and reduceSum.ts's partials for every pass but the last.
  const blocks = paramSizes.reduce((n, size) => n + Math.max(1, Math.ceil(size / REDUCE_BLOCK)), 0);
  add('gradNorm partial sums of squares', blocks);
  add('gradNorm Σg²', 1);
  const lengths = reducePassLengths(blocks);
  for (let p = 0; p < lengths.length - 1; p++) add(`reduceSum pass ${p} partials`, lengths[p]);
  return out;
}

/** `trainingBuffers` summed by category, with the largest single buffer. */
export function estimateTrainingMemory(
  c: AimConfig,
  batch: number,
  opts: MemoryOptions = {},
): TrainingMemory {
  const list = trainingBuffers(c, batch, opts);
  const bytes = Object.fromEntries(MEMORY_CATEGORIES.map((k) => [k, 0])) as Record<
    MemoryCategory,
    number
  >;
  let largest = list[0];
  for (const b of list) {
    bytes[b.category] += b.bytes;
    if (b.bytes > largest.bytes) largest = b;
  }
  const modelBytes =
    bytes.parameters + bytes.gradients + bytes.activations + bytes.gradientScratch + bytes.inputs;
  return {
    config: c.name,
    batch,
    bytes,
    modelBytes,
    totalBytes: modelBytes + bytes.optimizer + bytes.kernelScratch,
    largestBuffer: { label: largest.label, bytes: largest.bytes },
    buffers: list.length,
  };
}

/**
 * Why this estimate cannot be allocated on a device with these limits (empty when it can):
 * a buffer over maxStorageBufferBindingSize or maxBufferSize fails at allocation.
 */
export function memoryLimitProblems(
  m: TrainingMemory,
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number },
): string[] {
  const problems: string[] = [];
  const { label, bytes } = m.largestBuffer;
  for (const key of ['maxStorageBufferBindingSize', 'maxBufferSize'] as const) {
    if (bytes > limits[key])
      problems.push(
        `${m.config} at batch ${m.batch}: "${label}" needs ${bytes} bytes, above this GPU's ${key} (${limits[key]}).`,
      );
  }
  return problems;
}
