/**
 * Every buffer a training run allocates up front, walked once through an allocator: the
 * GPU model hands it its TensorPool (gpuBuffers.ts), memory.ts a counter that only adds up
 * sizes — the same walk, so the estimate cannot drift from the allocation (as llm.c's
 * fill_in_parameter_sizes / fill_in_activation_sizes serve both its malloc and its report).
 *
 * What each buffer holds and why it is saved is told in gpuTrunk.ts and gpuHead.ts. The
 * walk imports nothing from the GPU runtime or the kernels (but the pure matmulPlan.ts, which
 * sizes the split-K scratch), so the UI can count a preset's memory without them. Kernels'
 * own scratch (allocated when a dispatch is prepared) is not
 * here: memory.ts counts it.
 */
import type { Tensor } from '../gpu/tensor';
import { layerNormParamPartialsShape, splitKPartialsValues } from '../kernels/gradientPartials';
import { matmulSplitKCapacity, weightGradientShape } from '../kernels/matmulPlan';
import type { MatmulShape } from '../reference/matmul';
import { gridSize, headKindOf, numPatches, patchValues, type AimConfig } from './config';
import { paramSpecs, trunkParamSpecs, type ParamSpec } from './params';

/** What a buffer is for: memory.ts's categories (kernel scratch is allocated elsewhere). */
export type BufferRole =
  'parameters' | 'gradients' | 'optimizer' | 'activations' | 'gradientScratch' | 'inputs';

/**
 * Where every tensor of an arena starts: at a multiple of 256 bytes, the largest value WebGPU
 * allows for minStorageBufferOffsetAlignment, so a view is bindable on every device (and the
 * layout, hence the memory estimate, is the same on all of them).
 */
export const ARENA_ALIGNMENT = 256;

/**
 * The largest arena buffer: a model whose tensors need more gets several (aim-small's 34 M
 * parameters, 137 MB, would not fit WebGPU's default 128 MiB maxStorageBufferBindingSize).
 * 64 MiB keeps every arena below the largest activation of the presets. A tensor larger than
 * this gets a buffer of its own size.
 */
export const ARENA_MAX_BYTES = 64 * 1024 * 1024;

/** Where a tensor of an arena lives: which buffer, and at which byte. */
export interface ArenaSlot {
  buffer: number;
  byteOffset: number;
}

export interface ArenaLayout {
  /** Bytes of each buffer. */
  bufferBytes: number[];
  /** One slot per tensor, in order. */
  slots: ArenaSlot[];
}

/**
 * Tensors of `sizes` f32/u32 values, in order, each at an ARENA_ALIGNMENT-aligned offset (its
 * slot padded to the next multiple: at least 4 bytes, as a binding needs), in as few buffers
 * of at most ARENA_MAX_BYTES as that order allows. The padding is zero and nothing writes it
 * (kernels bind each tensor's own bytes).
 */
export function arenaLayout(sizes: readonly number[]): ArenaLayout {
  const bufferBytes: number[] = [];
  const slots: ArenaSlot[] = [];
  for (const size of sizes) {
    const bytes = Math.ceil(Math.max(4, 4 * size) / ARENA_ALIGNMENT) * ARENA_ALIGNMENT;
    const last = bufferBytes.length - 1;
    if (last < 0 || bufferBytes[last] + bytes > ARENA_MAX_BYTES) bufferBytes.push(0);
    const buffer = bufferBytes.length - 1;
    slots.push({ buffer, byteOffset: bufferBytes[buffer] });
    bufferBytes[buffer] += bytes;
  }
  return { bufferBytes, slots };
}

/**
 * Allocates one buffer per call (or, for an arena, a few buffers and a view per tensor).
 * `F` is what an f32 buffer is to the caller (a Tensor on the GPU, a size record in the
 * counter), `U` a u32 one.
 */
export interface TensorAllocator<F, U = F> {
  f32(shape: readonly number[], label: string, role: BufferRole): F;
  u32(shape: readonly number[], label: string, role: BufferRole): U;
  /**
   * f32 tensors of `shapes`, as views into the buffers of `arenaLayout` (labelled
   * `${label} arena ${i}`): parameters, gradients and AdamW's moments, so that the gradient
   * norm and AdamW cover the whole model in a few dispatches. Same shapes, same layout.
   */
  f32Arena(shapes: readonly (readonly number[])[], label: string, role: BufferRole): F[];
  /** The 2-D sin-cos position table [grid², dim], filled when allocated (an input). */
  sinCosTable(grid: number, dim: number, label: string): F;
}

type F32 = Tensor<'f32'>;
type U32 = Tensor<'u32'>;

export interface ModelInputTensors<F = F32, U = U32> {
  /** [B, 3, H, W]. */
  images: F;
  /** u32 [K]: token t is the patch at raster index order[t]. */
  order: U;
  /** u32 [B]: tokens < S_b are sample b's bidirectional prefix. */
  prefixLengths: U;
}

/** One tensor per parameter and (unless trunk-only) one per gradient, by state-dict key. */
export interface ParameterTensors<F = F32> {
  specs: readonly ParamSpec[];
  values: Map<string, F>;
  gradients: Map<string, F>;
}

/** A LayerNorm's output and the row statistics its backward needs. */
export interface NormBuffers<F = F32> {
  y: F;
  mean: F;
  rstd: F;
}

export interface TrunkBlockBuffers<F = F32> {
  ln1: NormBuffers<F>;
  qkv: F;
  attn: F;
  lse: F;
  mid: F;
  ln2: NormBuffers<F>;
  pre: F;
  act: F;
  /** The block's output, [B·K, D]. */
  out: F;
}

export interface TrunkBuffers<F = F32> {
  patches: F;
  embedded: F;
  /** Patch LayerNorm; its output `y` becomes the tokens once the positions are added in place. */
  patchNorm: NormBuffers<F>;
  /** ml-aim's tokens_after_preprocessor, [B·K, D] (= patchNorm.y). */
  tokens: F;
  table: F;
  blocks: TrunkBlockBuffers<F>[];
}

/** Gradient buffers of the trunk's backward (all [B·K, ·]). */
export interface TrunkGradBuffers<F = F32> {
  /** d loss / d (current residual stream); the head's backward leaves d(trunk output) here. */
  stream: F;
  dh: F;
  dattn: F;
  dqkv: F;
  dpre: F;
  /**
   * The split-K partials every split weight-gradient matmul of the step shares (they run one
   * after another), sized for any adapter (matmulPlan.ts matmulSplitKCapacity).
   */
  splitKPartials: F;
  /**
   * Per gradient name, a partials scratch of that gradient's own (views into one arena): the
   * split-K partials of each weight gradient that can be split, and each LayerNorm's weight
   * and bias partials, so the backward can run all their second passes in one dispatch at its
   * end (src/kernels/partialsReduce.ts). Sized for every row of the batch and any adapter.
   */
  gradientPartials: Map<string, F>;
}

export interface HeadBlockBuffers<F = F32> {
  /** LN_extra(input) (extraNormTerm only). */
  extra?: NormBuffers<F>;
  /** The MLP's residual input: the block input, or input + LN_extra(input). */
  residual: F;
  norm: NormBuffers<F>;
  pre: F;
  act: F;
  out: F;
}

/** The MLP head's own buffers (between the post-trunk norm and proj_out). */
export interface MlpHeadBuffers<F = F32> {
  /** h₀ = proj_in(z) + positions. */
  input: F;
  table: F;
  blocks: HeadBlockBuffers<F>[];
  headNorm: NormBuffers<F>;
  /** Head-side gradient buffers. */
  stream: F;
  dpre: F;
  dn: F;
  extraDx?: F;
}

export interface HeadBuffers<F = F32> {
  postNorm: NormBuffers<F>;
  /** Absent without a head (head 'none': proj_out reads the post-trunk norm's output). */
  mlp?: MlpHeadBuffers<F>;
  /** [B·K, p·p·3]. */
  pred: F;
  /** [B·K, p·p·3]: the images patchified in (row, col, channel) order, same order. */
  targets: F;
  perPosition: F;
  loss: F;
  /** d loss / d pred, written by the loss kernel during the forward. */
  dpred: F;
}

/** AdamW's moments per parameter, and the gradient norm and clip scale of one step. */
export interface OptimizerState<F = F32, U = F> {
  moments: Map<string, { expAvg: F; expAvgSq: F }>;
  norm: F;
  clipScale: F;
  /** u32 [1]: steps whose gradient norm was NaN/Inf; non-zero halts every later update. */
  nonFiniteSteps: U;
}

/**
 * u32 [B·K] each, written by setInputs every step: the rows the head computes (see
 * headRows.ts: compact row → full row, full row → compact row, compact row → table row).
 */
export interface HeadRowTensors<U = U32> {
  rows: U;
  rowOf: U;
  positions: U;
}

export interface ModelBuffers<F = F32, U = U32> {
  inputs: ModelInputTensors<F, U>;
  parameters: ParameterTensors<F>;
  trunk: TrunkBuffers<F>;
  /** Absent for a trunk-only model, as are the trunk's gradient buffers. */
  head?: HeadBuffers<F>;
  headRows?: HeadRowTensors<U>;
  trunkGrads?: TrunkGradBuffers<F>;
}

export function allocateNorm<F>(
  alloc: TensorAllocator<F, unknown>,
  rows: number,
  dim: number,
  label: string,
): NormBuffers<F> {
  return {
    y: alloc.f32([rows, dim], `${label} out`, 'activations'),
    mean: alloc.f32([rows], `${label} mean`, 'activations'),
    rstd: alloc.f32([rows], `${label} rstd`, 'activations'),
  };
}

export function allocateInputs<F, U>(
  alloc: TensorAllocator<F, U>,
  c: AimConfig,
  batch: number,
): ModelInputTensors<F, U> {
  return {
    images: alloc.f32([batch, c.channels, c.imageSize, c.imageSize], 'images', 'inputs'),
    order: alloc.u32([numPatches(c)], 'order', 'inputs'),
    prefixLengths: alloc.u32([batch], 'prefix lengths', 'inputs'),
  };
}

export function allocateParameters<F>(
  alloc: TensorAllocator<F, unknown>,
  specs: readonly ParamSpec[],
  { gradients = true } = {},
): ParameterTensors<F> {
  const out: ParameterTensors<F> = { specs, values: new Map(), gradients: new Map() };
  const shapes = specs.map((s) => s.shape);
  const values = alloc.f32Arena(shapes, 'parameters', 'parameters');
  specs.forEach((spec, i) => out.values.set(spec.name, values[i]));
  if (gradients) {
    const grads = alloc.f32Arena(shapes, 'gradients', 'gradients');
    specs.forEach((spec, i) => out.gradients.set(spec.name, grads[i]));
  }
  return out;
}

export function allocateTrunk<F>(
  alloc: TensorAllocator<F, unknown>,
  c: AimConfig,
  batch: number,
): TrunkBuffers<F> {
  const K = numPatches(c);
  const R = batch * K;
  const D = c.width;
  const hidden = c.mlpRatio * D;
  const act = (shape: number[], label: string) => alloc.f32(shape, label, 'activations');
  const patchNorm = allocateNorm(alloc, R, D, 'patch norm');
  return {
    patches: act([R, patchValues(c)], 'patches'),
    embedded: act([R, D], 'patch embedding'),
    patchNorm,
    tokens: patchNorm.y,
    table: alloc.sinCosTable(gridSize(c), D, 'trunk sin-cos table'),
    blocks: Array.from({ length: c.depth }, (_, l) => ({
      ln1: allocateNorm(alloc, R, D, `block ${l} norm_1`),
      qkv: act([R, 3 * D], `block ${l} qkv`),
      attn: act([R, D], `block ${l} attention`),
      lse: act([batch, c.heads, K], `block ${l} lse`),
      mid: act([R, D], `block ${l} x + attention`),
      ln2: allocateNorm(alloc, R, D, `block ${l} norm_2`),
      pre: act([R, hidden], `block ${l} fc1 pre-activation`),
      act: act([R, hidden], `block ${l} gelu`),
      out: act([R, D], `block ${l} output`),
    })),
  };
}

/** Every weight gradient's product (trunk and head) over at most `rows` rows. */
function weightGradientShapes(c: AimConfig, rows: number): MatmulShape[] {
  return paramSpecs(c)
    .filter((p) => p.kind === 'linear' || p.kind === 'conv')
    .map((p) => weightGradientShape(p.shape, rows));
}

export function allocateTrunkGrads<F>(
  alloc: TensorAllocator<F, unknown>,
  c: AimConfig,
  batch: number,
): TrunkGradBuffers<F> {
  const R = batch * numPatches(c);
  const D = c.width;
  const scratch = (shape: number[], label: string) => alloc.f32(shape, label, 'gradientScratch');
  return {
    stream: scratch([R, D], 'trunk residual gradient'),
    dh: scratch([R, D], 'trunk dh'),
    dattn: scratch([R, D], 'trunk d attention'),
    dqkv: scratch([R, 3 * D], 'trunk d qkv'),
    dpre: scratch([R, c.mlpRatio * D], 'trunk d pre-activation'),
    splitKPartials: scratch(
      [Math.max(1, matmulSplitKCapacity(weightGradientShapes(c, R)))],
      'split-K partials',
    ),
    gradientPartials: allocateGradientPartials(alloc, c, R),
  };
}

/**
 * Values of each gradient's own partials scratch over `rows` rows, by name (gradients without
 * any absent): the split-K partials of weights that some adapter splits, and both partial
 * sets of each LayerNorm.
 */
export function gradientPartialsValues(c: AimConfig, rows: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of paramSpecs(c)) {
    let values = 0;
    if (p.kind === 'linear' || p.kind === 'conv')
      values = splitKPartialsValues(weightGradientShape(p.shape, rows));
    else if (p.kind === 'norm-weight' || p.kind === 'norm-bias')
      values = layerNormParamPartialsShape(rows, p.shape[0]).reduce((x, y) => x * y, 1);
    if (values > 0) out.set(p.name, values);
  }
  return out;
}

/** TrunkGradBuffers.gradientPartials: one arena, a view per gradient that has partials. */
function allocateGradientPartials<F>(
  alloc: TensorAllocator<F, unknown>,
  c: AimConfig,
  rows: number,
): Map<string, F> {
  const values = gradientPartialsValues(c, rows);
  const names = [...values.keys()];
  const views = names.length
    ? alloc.f32Arena(
        names.map((n) => [values.get(n)!]),
        'gradient partials',
        'gradientScratch',
      )
    : [];
  return new Map(names.map((name, i) => [name, views[i]]));
}

export function allocateHead<F>(
  alloc: TensorAllocator<F, unknown>,
  c: AimConfig,
  batch: number,
): HeadBuffers<F> {
  const K = numPatches(c);
  const R = batch * K;
  const P = patchValues(c);
  const act = (shape: number[], label: string) => alloc.f32(shape, label, 'activations');
  const scratch = (shape: number[], label: string) => alloc.f32(shape, label, 'gradientScratch');
  const mlp = headKindOf(c) === 'mlp' ? allocateMlpHead(alloc, c, R) : undefined;
  return {
    postNorm: allocateNorm(alloc, R, c.width, 'post_trunk_norm'),
    mlp,
    pred: act([R, P], 'prediction'),
    targets: act([R, P], 'targets'),
    perPosition: act([batch, K], 'per-position loss'),
    loss: act([1], 'loss'),
    dpred: scratch([R, P], 'd prediction'),
  };
}

function allocateMlpHead<F>(
  alloc: TensorAllocator<F, unknown>,
  c: AimConfig,
  R: number,
): MlpHeadBuffers<F> {
  const W = c.head.width;
  const hidden = c.mlpRatio * W;
  const extra = c.head.extraNormTerm;
  const act = (shape: number[], label: string) => alloc.f32(shape, label, 'activations');
  const scratch = (shape: number[], label: string) => alloc.f32(shape, label, 'gradientScratch');
  const input = act([R, W], 'head input');
  const blocks: HeadBlockBuffers<F>[] = [];
  let x = input;
  for (let j = 0; j < c.head.depth; j++) {
    const block: HeadBlockBuffers<F> = {
      extra: extra ? allocateNorm(alloc, R, W, `head block ${j} norm_extra`) : undefined,
      // Without the extra term the MLP's residual input is the block input itself.
      residual: extra ? act([R, W], `head block ${j} x + norm_extra(x)`) : x,
      norm: allocateNorm(alloc, R, W, `head block ${j} norm`),
      pre: act([R, hidden], `head block ${j} fc1 pre-activation`),
      act: act([R, hidden], `head block ${j} gelu`),
      out: act([R, W], `head block ${j} output`),
    };
    blocks.push(block);
    x = block.out;
  }
  return {
    input,
    table: alloc.sinCosTable(gridSize(c), W, 'head sin-cos table'),
    blocks,
    headNorm: allocateNorm(alloc, R, W, 'head norm'),
    stream: scratch([R, W], 'head residual gradient'),
    dpre: scratch([R, hidden], 'head d pre-activation'),
    dn: scratch([R, W], 'head dn'),
    extraDx: extra ? scratch([R, W], 'head d norm_extra input') : undefined,
  };
}

/**
 * Everything `AimGpuModel.create` allocates, in its order: inputs, parameters (and
 * gradients), the trunk's activations, then — unless `trunkOnly` — the head's and the
 * trunk's gradient scratch.
 */
export function allocateModel<F, U>(
  alloc: TensorAllocator<F, U>,
  c: AimConfig,
  batch: number,
  { trunkOnly = false } = {},
): ModelBuffers<F, U> {
  const inputs = allocateInputs(alloc, c, batch);
  const specs = trunkOnly ? trunkParamSpecs(c) : paramSpecs(c);
  const parameters = allocateParameters(alloc, specs, { gradients: !trunkOnly });
  const trunk = allocateTrunk(alloc, c, batch);
  if (trunkOnly) return { inputs, parameters, trunk };
  const head = allocateHead(alloc, c, batch);
  const R = batch * numPatches(c);
  const headRows: HeadRowTensors<U> = {
    rows: alloc.u32([R], 'head rows', 'inputs'),
    rowOf: alloc.u32([R], 'head row of each full row', 'inputs'),
    positions: alloc.u32([R], 'head row positions', 'inputs'),
  };
  const trunkGrads = allocateTrunkGrads(alloc, c, batch);
  return { inputs, parameters, trunk, head, headRows, trunkGrads };
}

/**
 * What the Trainer allocates for AdamW: exp_avg and exp_avg_sq per parameter, in two arenas
 * laid out as the parameter and gradient arenas (so AdamW's table indexes all four alike),
 * and two scalars.
 */
export function allocateOptimizerState<F, U>(
  alloc: TensorAllocator<F, U>,
  specs: readonly ParamSpec[],
): OptimizerState<F, U> {
  const moments = new Map<string, { expAvg: F; expAvgSq: F }>();
  const shapes = specs.map((s) => s.shape);
  const expAvg = alloc.f32Arena(shapes, 'exp_avg', 'optimizer');
  const expAvgSq = alloc.f32Arena(shapes, 'exp_avg_sq', 'optimizer');
  specs.forEach(({ name }, i) => moments.set(name, { expAvg: expAvg[i], expAvgSq: expAvgSq[i] }));
  return {
    moments,
    norm: alloc.f32([1], 'gradient norm', 'optimizer'),
    clipScale: alloc.f32([1], 'clip scale', 'optimizer'),
    nonFiniteSteps: alloc.u32([1], 'non-finite steps', 'optimizer'),
  };
}
