/**
 * GPU memory of training one AIM configuration at one batch size, computed WITHOUT
 * allocating anything: allocation.ts's walk — the one `AimGpuModel.create` and the Trainer
 * allocate with — run on a counter that only records sizes, plus the storage buffers the
 * kernel wrappers allocate for themselves when a step's dispatches are prepared.
 *
 * Everything is allocated once, before the first step, and nothing is allocated during a
 * step (the loss and norm are read back through a ring of buffers made once), so the sum is the steady-state allocation of a
 * training run — what the device must hold, not counting the driver's own overhead.
 *
 * Categories:
 *  - parameters, gradients: one arena each (a few buffers holding every parameter's tensor at
 *    a 256-byte-aligned offset, allocation.ts's arenaLayout; the padding is counted);
 *  - optimizer: AdamW's exp_avg and exp_avg_sq arenas, the gradient norm, the clip scale and
 *    the non-finite step counter;
 *  - activations: every forward tensor the backward reads (gpuTrunk.ts / gpuHead.ts headers),
 *    plus the prediction, the targets and the losses;
 *  - gradientScratch: the backward's gradient buffers shared by all blocks, and d loss / d pred;
 *  - inputs: images, patch order, prefix lengths, the head's row lists and the two sin-cos
 *    position tables;
 *  - kernelScratch: storage buffers owned by prepared dispatches (the three-kernel attention
 *    backward's Δ, LayerNorm and column-sum partial sums, the loss's target count, the
 *    gradient norm's partial sums, and
 *    the block tables of the gradient norm's and AdamW's one-dispatch-per-arena passes, the
 *    batch augmentation's rows);
 *  - dataset: the run's images on the GPU and the augmentation's coefficient and
 *    normalisation tables and per-image records (only when `dataBuffers` are given).
 * Uniform buffers (16–32 bytes per dispatch, a few KiB in all) are not counted.
 *
 * `modelBytes` (parameters + gradients + activations + gradientScratch + inputs) is exactly
 * `AimGpuModel.bytes`; test/memory.test.ts checks every category against real allocations.
 */
import { attentionDeltaShape, attentionShape } from '../kernels/attention';
import { shortAttentionRefusal } from '../kernels/attentionPlan';
import { columnSumPasses, COLUMN_SUM_TILE } from '../kernels/columnSum';
import { partialsReduceTableEntries } from '../kernels/gradientPartials';
import { PARTIALS_REDUCE_ENTRY_BYTES } from '../kernels/partialsReduce';
import {
  GRAD_NORM_TABLE_ENTRY_BYTES,
  gradNormBlocks,
  gradNormTableEntries,
} from '../kernels/gradNorm';
import { reducePassLengths } from '../kernels/reduceSum';
import { ADAMW_TABLE_ENTRY_BYTES, adamWTableEntries } from '../kernels/adamw';
import {
  allocateModel,
  allocateOptimizerState,
  arenaLayout,
  gradientPartialsValues,
  type BufferRole,
  type TensorAllocator,
} from './allocation';
import { numPatches, type AimConfig } from './config';
import { headRowBuckets } from './headRows';
import { paramSize, type ParamSpec } from './params';

const F32 = 4;

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export const MEMORY_CATEGORIES = [
  'parameters',
  'gradients',
  'optimizer',
  'activations',
  'gradientScratch',
  'inputs',
  'kernelScratch',
  'dataset',
] as const satisfies readonly (BufferRole | 'kernelScratch' | 'dataset')[];

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
  /**
   * Storage buffers the Trainer adds beside the model: the run's images on the GPU and the
   * augmentation's tables and rows (src/training/gpuBatches.ts gpuBatchBuffers). They depend
   * on the dataset, so an estimate without them counts the model and optimizer only.
   */
  dataBuffers?: readonly BufferEstimate[];
}

/** The allocator that allocates nothing: it lists each buffer's label, bytes and role. */
class BufferCounter implements TensorAllocator<BufferEstimate> {
  readonly buffers: BufferEstimate[] = [];

  f32(shape: readonly number[], label: string, category: BufferRole): BufferEstimate {
    const entry = { label, bytes: shape.reduce((a, b) => a * b, F32), category };
    this.buffers.push(entry);
    return entry;
  }

  u32(shape: readonly number[], label: string, category: BufferRole): BufferEstimate {
    return this.f32(shape, label, category);
  }

  f32Arena(
    shapes: readonly (readonly number[])[],
    label: string,
    category: BufferRole,
  ): BufferEstimate[] {
    for (const [i, bytes] of arenaLayout(shapes.map(count)).bufferBytes.entries())
      this.buffers.push({ label: `${label} arena ${i}`, bytes, category });
    // The views take no memory of their own.
    return shapes.map(() => ({ label, bytes: 0, category }));
  }

  sinCosTable(grid: number, dim: number, label: string): BufferEstimate {
    return this.f32([grid * grid, dim], label, 'inputs');
  }
}

/** Every buffer a training run of `config` at `batch` allocates (see the header). */
export function trainingBuffers(
  c: AimConfig,
  batch: number,
  opts: MemoryOptions = {},
): BufferEstimate[] {
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`memory estimate: batch ${batch} must be a positive integer`);
  const counter = new BufferCounter();
  const { parameters } = allocateModel(counter, c, batch, opts);
  if (opts.trunkOnly) return counter.buffers;
  allocateOptimizerState(counter, parameters.specs);
  return [
    ...counter.buffers,
    ...kernelScratch(c, batch, parameters.specs),
    ...(opts.dataBuffers ?? []),
  ];
}

/**
 * Storage buffers owned by the prepared dispatches of one training step. The backward walks
 * the parameter table from its end (gpuHead.ts, then gpuTrunk.ts): every LayerNorm's
 * parameter gradients come from partial sums, every bias's from a column sum, and each
 * block's attention backward keeps its Δ.
 */
function kernelScratch(c: AimConfig, batch: number, specs: readonly ParamSpec[]): BufferEstimate[] {
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
  // (Every LayerNorm's parameter-gradient partials are in allocation.ts's gradientPartials.)
  // The table of each backward list's merged partials_reduce pass (partialsReduce.ts), padded
  // to every gradient with partials, there whenever the list has a LayerNorm (whose reduce is
  // deferred on every adapter): the head's list once per row bucket, the rest once.
  const partials = gradientPartialsValues(c, R);
  const table = (label: string, head: boolean) => {
    const own = specs.filter((s) => partials.has(s.name) && s.name.startsWith('head.') === head);
    if (!own.some((s) => s.kind === 'norm-weight')) return;
    const entries = partialsReduceTableEntries(own.map(paramSize));
    out.push({ label, bytes: entries * PARTIALS_REDUCE_ENTRY_BYTES, category: 'kernelScratch' });
  };

  // The head after the post-trunk norm is prepared once per row bucket (headRows.ts), each
  // preparation with its own scratch: the loss kernel's counted-targets N and its loss sum's
  // partials, and the head's LayerNorm and bias scratch for that many rows.
  const buckets = headRowBuckets(R);
  for (let b = 0; b < buckets.length; b++) table(`partialsReduce table (head, bucket ${b})`, true);
  table('partialsReduce table', false);
  const lossPasses = reducePassLengths(R);
  for (let b = 0; b < buckets.length; b++) {
    add('patchMseLoss counted targets N', 1);
    for (let p = 0; p < lossPasses.length - 1; p++)
      add(`loss reduceSum pass ${p} partials`, lossPasses[p]);
  }
  for (const spec of [...specs].reverse()) {
    const prefix = spec.name.slice(0, spec.name.lastIndexOf('.'));
    const rowCounts = spec.name.startsWith('head.') ? buckets : [R];
    if (spec.kind === 'bias')
      for (const rows of rowCounts) columnSum(spec.name, rows, paramSize(spec));
    else if (spec.name.endsWith('.attn.qkv.weight')) {
      // Only the three-kernel backward has a Δ buffer (the short one keeps Δ in workgroup memory).
      const shape = attentionShape([batch, K, 3 * c.width], c.heads);
      if (shortAttentionRefusal(shape) !== undefined)
        add(
          `${prefix.slice(0, -'.attn.qkv'.length)} attention Δ`,
          count(attentionDeltaShape(shape)),
        );
    }
  }

  // gradNorm.ts: one partial sum of squares per REDUCE_BLOCK values of each gradient, Σg²,
  // and reduceSum.ts's partials for every pass but the last.
  const blocks = specs.reduce((n, s) => n + gradNormBlocks(paramSize(s)), 0);
  add('gradNorm partial sums of squares', blocks);
  add('gradNorm Σg²', 1);
  const lengths = reducePassLengths(blocks);
  for (let p = 0; p < lengths.length - 1; p++) add(`reduceSum pass ${p} partials`, lengths[p]);
  // The block tables of the one-pass optimizer: per arena buffer (the gradient and moment
  // arenas have the parameter arena's layout), one for the gradient norm's partial sums and
  // one for AdamW.
  const sizes = specs.map(paramSize);
  const perBuffer: number[][] = [];
  arenaLayout(sizes).slots.forEach(({ buffer }, i) => (perBuffer[buffer] ??= []).push(sizes[i]));
  gradNormTableEntries(perBuffer).forEach((entries, g) =>
    out.push({
      label: `gradNorm blocks ${g}`,
      bytes: entries * GRAD_NORM_TABLE_ENTRY_BYTES,
      category: 'kernelScratch',
    }),
  );
  perBuffer.forEach((bufferSizes, g) =>
    out.push({
      label: `adamw blocks ${g}`,
      bytes: adamWTableEntries(bufferSizes) * ADAMW_TABLE_ENTRY_BYTES,
      category: 'kernelScratch',
    }),
  );
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
    totalBytes: modelBytes + bytes.optimizer + bytes.kernelScratch + bytes.dataset,
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
