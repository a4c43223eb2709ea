/**
 * How much memory running an AIM ONNX export takes, and whether this device can hold it:
 * weights (exactly the bytes src/onnx/export.ts writes, per format), what they occupy once
 * loaded, an activation estimate for inference at batch N, the largest single buffer (what a
 * WebGPU adapter's binding limit must admit), and the download.
 *
 * `estimateForConfig` needs only the architecture (the Inference page's table of the paper's
 * models, before anything exists); `estimateForPlan` reads a planned model.onnx
 * (modelPlan.ts), where the weights are counted from the initializers themselves.
 *
 * Activations, at batch N with K tokens of width D, H heads, MLP hidden M (f32 everywhere):
 *   t = N·K·D·4 (a token tensor), s = N·H·K·K·4 (attention scores), m = N·K·M·4
 *   attention phase  2t (residual, LN₁) + 6t (qkv and its head-split copy) + 2s (scores, softmax)
 *   MLP phase        2t (residual, LN₂) + 3m (fc1's output and GELU's temporaries)
 *   retained         the input images + P·t (the P probe layers' outputs, kept to be averaged)
 * total = 1.25 · (retained + the larger phase). It is deliberately conservative: onnxruntime
 * frees most of these as it goes, but its WebGPU buffer cache keeps freed buffers (rounded up
 * to size buckets) for reuse, hence the 25 % on top. Blocks run one after another, so the
 * activations do not grow with depth.
 */
import { formatBytes } from '../util/format';
import type { AimModelPlan } from './modelPlan';
import { DEFAULT_MAX_SHARD_BYTES, PAGE, SHARD_TAG_BYTES, SMALL_ALIGN } from '../onnx/externalData';
import { INT4_BLOCK } from '../onnx/int4';
import { aimTensorTable, paramSize } from '../model/params';
import { tokensOf, type AimHeadShape, type AimShape } from '../model/shape';
import type { WeightFormat } from '../onnx/weightEmitter';

export type { WeightFormat } from '../onnx/weightEmitter';

export interface MemoryEstimate {
  weightBytes: number;
  /** What the weights occupy on the GPU (or the wasm heap) after load. */
  gpuWeightBytes: number;
  activationBytes: number;
  totalGpuBytes: number;
  largestBufferBytes: number;
  /** The tensor behind largestBufferBytes, for messages. */
  largestBufferName: string;
  downloadBytes: number;
  /** estimateForConfig: the external-data shards an export writes, in bytes (tags and padding included). */
  shardBytes?: number[];
  notes: string[];
}

/** An AIM v1 architecture as ml-aim's config names it; defaults are ml-aim's. */
export interface AimArchitecture {
  imgSize: number;
  patchSize: number;
  channels?: number;
  embedDim: number;
  numBlocks: number;
  numHeads: number;
  mlpRatio?: number;
  /** Blocks actually run: max(probe layers) + 1 (the 7B's best layers: 20 of 32). */
  blocks?: number;
  /** How many block outputs are averaged into the features (ml-aim's default 6). */
  probeLayers?: number;
  /** ml-aim's attentive probe; its `linear` has a bias and BatchNorm stats unless told otherwise. */
  probe?: { classes: number; queries?: number; batchNorm?: boolean; linearBias?: boolean };
  /** qkv, proj, fc1 and fc2 with biases (ml-aim v1 has none). */
  linearBiases?: boolean;
  /**
   * This project's prediction head (then no probe). With neither head nor `blocks`, the
   * features are the whole trunk through post_trunk_norm, as the exporter does.
   */
  predictionHead?: { width: number; depth: number; extraNorm?: boolean };
}

const F32 = 4;
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/**
 * model.onnx itself (metadata, ~26 nodes a block, one record per external tensor), fitted
 * to exports within ±30 %; it is under a megabyte even for the 7B.
 */
const modelFileBytes = (blocks: number, tensors: number) => 4096 + 2600 * blocks + 160 * tensors;
const ACTIVATION_MARGIN = 1.25;
/** wasm32 addresses 4 GiB; onnxruntime's code, stacks and allocator keep a few hundred MiB. */
const WASM_HEAP_BYTES = 4 * GiB - 256 * MiB;
const LARGE_GPU_BYTES = 8 * GiB;

interface Stored {
  name: string;
  bytes: number;
  f16: boolean;
}

/**
 * The exporter's feature mode (aimTensors.ts featureModeOf): the probe layers' mean when they
 * are named (`blocks`) or a probe exists, else the whole trunk through post_trunk_norm.
 */
const postTrunkNorm = (a: AimArchitecture) =>
  a.predictionHead !== undefined || (a.probe === undefined && a.blocks === undefined);
const blocksRun = (a: AimArchitecture) =>
  postTrunkNorm(a) ? a.numBlocks : (a.blocks ?? a.numBlocks);

/** The shape `a` describes: what the export reads of it (its parameter table, params.ts). */
function shapeOf(a: AimArchitecture): AimShape {
  const ratio = a.mlpRatio ?? 4;
  const channels = a.channels ?? 3;
  let head: AimHeadShape = { kind: 'none' };
  if (a.predictionHead) {
    const { width, depth, extraNorm = false } = a.predictionHead;
    // params.ts: the head shares the trunk's MLP ratio.
    const hidden = Math.trunc(ratio * width);
    const patchValues = a.patchSize ** 2 * channels;
    head = { kind: 'prediction', width, depth, hidden, extraNorm, patchValues };
  } else if (a.probe) {
    const { classes, queries = 1, batchNorm = true, linearBias = true } = a.probe;
    head = { kind: 'probe', classes, queries, batchNorm, kvBias: false, linearBias };
  }
  return {
    imageHeight: a.imgSize,
    imageWidth: a.imgSize,
    patchHeight: a.patchSize,
    patchWidth: a.patchSize,
    channels,
    width: a.embedDim,
    depth: blocksRun(a),
    heads: a.numHeads,
    mlpHidden: Math.trunc(ratio * a.embedDim), // ml-aim: int(mlp_ratio * embed_dim)
    linearBiases: a.linearBiases ?? false,
    postTrunkNorm: postTrunkNorm(a),
    head,
  };
}

/**
 * Every external tensor src/onnx/export.ts writes for `a`, in its order, with its size: the
 * parameter table as the exporter stores it (Linear weights transposed or int4-packed, the
 * BatchNorm folded, the query pre-scaled, fp16 copies) with the 2-D positions it derives.
 */
function exportedTensors(a: AimArchitecture, format: WeightFormat): Stored[] {
  const out: Stored[] = [];
  const shape = shapeOf(a);
  const tokens = tokensOf(shape);
  const f32 = (name: string, n: number) => out.push({ name, bytes: n * F32, f16: false });
  const param = (name: string, n: number) =>
    format === 'fp16' ? out.push({ name: `${name}_fp16`, bytes: 2 * n, f16: true }) : f32(name, n);
  const linearWeight = (prefix: string, [outDim, inDim]: readonly number[]) => {
    if (format !== 'int4') return param(`${prefix}.weight_t`, outDim * inDim);
    const blocks = Math.ceil(inDim / INT4_BLOCK);
    out.push({
      name: `${prefix}.weight_q4`,
      bytes: (outDim * blocks * INT4_BLOCK) / 2,
      f16: false,
    });
    f32(`${prefix}.weight_scales`, outDim * blocks);
    out.push({
      name: `${prefix}.weight_zero_points`,
      bytes: outDim * Math.ceil(blocks / 2),
      f16: false,
    });
  };
  for (const t of aimTensorTable(shape)) {
    if (t.name === 'head.proj_in.weight' && shape.head.kind === 'prediction')
      f32('head_pos_embed', tokens * shape.head.width);
    const n = paramSize(t);
    // The folded BatchNorm and the pre-scaled query are derived constants: f32 in every format.
    if (t.kind === 'linear') linearWeight(t.name.replace(/\.weight$/, ''), t.shape);
    else if (t.kind === 'running-mean') f32(t.name, n);
    else if (t.kind === 'running-var') f32('head.bn.inv_std', n);
    else if (t.kind === 'query') f32('head.cls_token_scaled', n);
    else param(t.name, n);
    if (t.name === 'preprocessor.patchifier.norm.bias') f32('pos_embed', tokens * shape.width);
  }
  return out;
}

/** The shard sizes ExternalDataWriter produces for these tensors (tag, alignment, limit). */
function shardSizes(tensors: readonly Stored[], maxShardBytes: number): number[] {
  const shards: number[] = [];
  for (const t of tensors) {
    const align = t.bytes >= PAGE ? PAGE : SMALL_ALIGN;
    const last = shards.length - 1;
    const offset = last < 0 ? Infinity : Math.ceil(shards[last] / align) * align;
    if (offset + t.bytes > maxShardBytes)
      shards.push(Math.ceil(SHARD_TAG_BYTES / align) * align + t.bytes);
    else shards[last] = offset + t.bytes;
  }
  return shards;
}

interface ActivationShape {
  batch: number;
  imageValues: number;
  tokens: number;
  dim: number;
  heads: number;
  hidden: number;
  probeLayers: number;
  /** The prediction head's MLP hidden width, when it runs. */
  headHidden?: number;
}

function activations(s: ActivationShape) {
  const t = s.batch * s.tokens * s.dim * F32;
  const scores = s.batch * s.heads * s.tokens ** 2 * F32;
  const mlp = s.batch * s.tokens * s.hidden * F32;
  const headMlp = s.batch * s.tokens * (s.headHidden ?? 0) * F32;
  const images = s.batch * s.imageValues * F32;
  const phase = Math.max(8 * t + 2 * scores, 2 * t + 3 * Math.max(mlp, headMlp));
  const bytes = Math.ceil(ACTIVATION_MARGIN * (images + s.probeLayers * t + phase));
  const candidates: [string, number][] = [
    [`attention scores [${s.batch}, ${s.heads}, ${s.tokens}, ${s.tokens}]`, scores],
    [`MLP hidden [${s.batch}, ${s.tokens}, ${s.hidden}]`, mlp],
    [`prediction-head MLP hidden [${s.batch}, ${s.tokens}, ${s.headHidden}]`, headMlp],
    ['input images', images],
  ];
  const [name, largest] = candidates.reduce((a, c) => (c[1] > a[1] ? c : a));
  return { bytes, largest: { name, bytes: largest } };
}

const FP16_NOTE =
  'fp16 halves the download, but the graph Casts the weights to f32 and onnxruntime may fold ' +
  'those Casts at load, keeping f32 copies: GPU weights are counted at f32 size.';
const INT4_NOTE =
  'int4 Linear weights stay packed on the GPU (MatMulNBits: 4 bits plus an f32 scale and a ' +
  '4-bit zero point per 32 values); the patch embedding, norms and positions stay f32.';
const activationNote = (batch: number) =>
  `Activations are a deliberately high estimate for batch ${batch}: every large intermediate of ` +
  'one block alive at once, plus 25 % for the buffer cache.';

function combine(
  weights: { bytes: number; gpu: number; largest: { name: string; bytes: number } },
  act: ReturnType<typeof activations>,
  downloadBytes: number,
  notes: string[],
): MemoryEstimate {
  const largest = act.largest.bytes > weights.largest.bytes ? act.largest : weights.largest;
  return {
    weightBytes: weights.bytes,
    gpuWeightBytes: weights.gpu,
    activationBytes: act.bytes,
    totalGpuBytes: weights.gpu + act.bytes,
    largestBufferBytes: largest.bytes,
    largestBufferName: largest.name,
    downloadBytes,
    notes,
  };
}

/** Memory of an export of architecture `a` in `format`, before it exists. */
export function estimateForConfig(
  a: AimArchitecture,
  format: WeightFormat,
  batch = 1,
  options: { maxShardBytes?: number } = {},
): MemoryEstimate {
  const tensors = exportedTensors(a, format);
  const bytes = tensors.reduce((s, t) => s + t.bytes, 0);
  // On the GPU an fp16 tensor may be its f32 Cast output (named without `_fp16`).
  const loaded = tensors.map((t) =>
    t.f16 ? { name: t.name.replace(/_fp16$/, ''), bytes: 2 * t.bytes } : t,
  );
  const largest = loaded.reduce((m, t) => (t.bytes > m.bytes ? t : m));
  const gpu = loaded.reduce((s, t) => s + t.bytes, 0);
  const shardBytes = shardSizes(tensors, options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES);
  const blocks = blocksRun(a);
  const act = activations({
    batch,
    imageValues: (a.channels ?? 3) * a.imgSize ** 2,
    tokens: (a.imgSize / a.patchSize) ** 2,
    dim: a.embedDim,
    heads: a.numHeads,
    hidden: Math.trunc((a.mlpRatio ?? 4) * a.embedDim),
    probeLayers: postTrunkNorm(a) ? 1 : Math.min(a.probeLayers ?? 6, blocks),
    headHidden: a.predictionHead && Math.trunc((a.mlpRatio ?? 4) * a.predictionHead.width),
  });
  const notes = [activationNote(batch)];
  if (format === 'fp16') notes.push(FP16_NOTE);
  if (format === 'int4') notes.push(INT4_NOTE);
  if (blocks < a.numBlocks)
    notes.push(`Runs ${blocks} of ${a.numBlocks} blocks: the probe reads no later layer.`);
  const download = shardBytes.reduce((s, b) => s + b, 0) + modelFileBytes(blocks, tensors.length);
  const estimate = combine(
    { bytes, gpu, largest: { name: largest.name, bytes: largest.bytes } },
    act,
    download,
    notes,
  );
  return { ...estimate, shardBytes };
}

/** Memory of a planned model.onnx: weights from its initializers, activations from its shapes. */
export function estimateForPlan(plan: AimModelPlan, batch = 1): MemoryEstimate {
  const c = plan.config;
  const { tokens, dim } = plan.features;
  const notes = [activationNote(batch)];
  // Folded Casts may widen any binary16 initializer to f32: count them twice over.
  const f16 = plan.weightBytesByType.FLOAT16 ?? 0;
  if (f16) notes.push(FP16_NOTE);
  if (plan.format === 'int4') notes.push(INT4_NOTE);
  const widen = plan.largestTensor.dataType === 'FLOAT16';
  const largest = {
    name: widen ? `${plan.largestTensor.name} (as f32)` : plan.largestTensor.name,
    bytes: (widen ? 2 : 1) * plan.largestTensor.bytes,
  };
  const heads = c?.numHeads ?? Math.max(1, Math.round(dim / 64));
  if (!c) notes.push(`The model names no head count: assumed ${heads} (head width 64).`);
  const act = activations({
    batch,
    imageValues: plan.input.channels * plan.input.height * plan.input.width,
    tokens,
    dim,
    heads,
    hidden: c?.mlpHidden ?? 4 * dim,
    probeLayers:
      plan.featureMode === 'post-trunk-norm'
        ? 1
        : Math.min(c?.probeLayers.length ?? 6, plan.blocks ?? Infinity),
    // The head's width is not in the metadata: assume the paper's 2048 (or wider, like the trunk).
    headHidden: plan.patchPredictions && 4 * Math.max(dim, 2048),
  });
  const weights = { bytes: plan.weightBytes, gpu: plan.weightBytes + f16, largest };
  return combine(weights, act, plan.totalBytes, notes);
}

export interface AdapterLimitsLike {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export type Fit = { ok: true; warnings: string[] } | { ok: false; reason: string };

/** Whether `estimate` fits this backend and adapter: a refusal names the tensor and the limit. */
export function checkFits(
  estimate: MemoryEstimate,
  limits: AdapterLimitsLike,
  backend: 'webgpu' | 'wasm',
): Fit {
  const total = formatBytes(estimate.totalGpuBytes);
  if (backend === 'wasm') {
    if (estimate.totalGpuBytes > WASM_HEAP_BYTES) {
      const heap = formatBytes(WASM_HEAP_BYTES);
      return {
        ok: false,
        reason: `This model needs about ${total} of memory, more than the ${heap} the WebAssembly backend (wasm32) can address; use WebGPU or a smaller format (int4).`,
      };
    }
    return { ok: true, warnings: [] };
  }
  const buffer = `${estimate.largestBufferName} (${formatBytes(estimate.largestBufferBytes)})`;
  for (const key of ['maxBufferSize', 'maxStorageBufferBindingSize'] as const) {
    if (estimate.largestBufferBytes > limits[key]) {
      return {
        ok: false,
        reason: `Its largest buffer, ${buffer}, is above this GPU's ${key} of ${formatBytes(limits[key])}: try the int4 export (Linear weights 8× smaller) or a smaller model.`,
      };
    }
  }
  const warnings: string[] = [];
  if (estimate.totalGpuBytes > LARGE_GPU_BYTES) {
    warnings.push(
      `This model needs about ${total} of GPU memory; most laptop GPUs have less, and the browser may lose the device while loading.`,
    );
  }
  return { ok: true, warnings };
}
