/**
 * Apple's AIM checkpoint files dropped in the Inference tab, read before anything is
 * converted: which files are the weights (the same choice as `npm run export`), the config,
 * every tensor the export will read checked against it (a wrong config.json fails here, with
 * the tensor and both shapes named), and what each output format will cost — the files it
 * writes, the GPU memory it needs to run, whether this adapter and the origin's storage can
 * hold it. Only the archives' directories and pickles are read: the tensors stay on disk,
 * and each is later read by one Blob.slice range (src/onnx/byteSource.ts).
 */
import { ByteSourceError, blobByteSource, type ByteSource } from '../onnx/byteSource';
import {
  AimCheckpointError,
  openWeights,
  parseAimConfig,
  type AimOnnxConfig,
  type CheckpointLayout,
  type WeightDType,
  type WeightSource,
} from '../onnx/checkpoint';
import {
  checkTensors,
  expectedTensors,
  featureModeOf,
  hasProbeHead,
  predictionHeadOf,
  type FeatureMode,
} from '../onnx/aimTensors';
import { WEIGHT_FORMATS, type WeightFormat } from '../onnx/weightEmitter';
import { SafetensorsError } from '../data/safetensors';
import { TorchCheckpointError } from '../onnx/torchZip';
import { formatBytes } from '../util/format';
import {
  checkFits,
  estimateForConfig,
  type AdapterLimitsLike,
  type AimArchitecture,
  type Fit,
  type MemoryEstimate,
} from './memoryPlan';

/** A checkpoint that cannot be converted; `remedy` says what the user can do. */
export class CheckpointFileError extends Error {
  override readonly name = 'CheckpointFileError';
  constructor(
    message: string,
    readonly remedy?: string,
  ) {
    super(message);
  }
}

export interface DroppedFileSummary {
  name: string;
  bytes: number;
  role: 'config' | 'weights' | 'unused';
}

export interface FormatPlan {
  format: WeightFormat;
  /** model.onnx and its shards, as the exporter will write them. */
  outputBytes: number;
  shardCount: number;
  estimate: MemoryEstimate;
  /** Whether this adapter (or wasm) can run the result. */
  fit: Fit;
  /** Why the origin's storage cannot take it, when it cannot. */
  storageShort?: string;
}

export interface ConvertPlan {
  layout: CheckpointLayout;
  files: DroppedFileSummary[];
  /** The `*_head_*.pth` files offered, and the one chosen (pth pairs). */
  heads: string[];
  head?: string;
  config: AimOnnxConfig;
  featureMode: FeatureMode;
  hasProbe: boolean;
  /** Trunk blocks the export reads (the deepest probe layer + 1, or all). */
  blocks: number;
  tensorsToRead: number;
  /** Bytes of the tensors the export reads from the files (the progress bar's total). */
  bytesToRead: number;
  largestTensor: { name: string; bytes: number };
  formats: FormatPlan[];
  /** Free bytes the origin may still store, when the browser says. */
  freeBytes?: number;
  label: string;
}

const DTYPE_BYTES: Record<WeightDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

const MAX_CONFIG_BYTES = 1 << 20;

const isHead = (name: string) => /_head_.*\.pth$/.test(name);
/**
 * The weight files among `names`, as the CLI picks them (src/onnx/checkpoint.ts
 * chooseWeightFiles), except that several heads are offered instead of refused: `head`
 * picks one, else the "best" one.
 */
export function chooseDroppedWeights(
  names: readonly string[],
  head?: string,
): { weights: string[]; heads: string[]; head?: string } {
  const heads = names.filter(isHead).sort();
  if (names.includes('pytorch_model.bin')) return { weights: ['pytorch_model.bin'], heads: [] };
  const backbones = names.filter((n) => n.endsWith('_backbone.pth'));
  if (backbones.length > 1)
    throw new CheckpointFileError(
      `several backbones were dropped (${backbones.join(', ')})`,
      'Drop one checkpoint at a time: one *_backbone.pth with its *_head_*.pth.',
    );
  if (backbones.length === 1) {
    const chosen =
      (head && heads.find((h) => h === head)) ??
      heads.find((h) => h.includes('_head_best')) ??
      heads[0];
    return { weights: chosen ? [backbones[0], chosen] : [backbones[0]], heads, head: chosen };
  }
  if (heads.length)
    throw new CheckpointFileError(
      `${heads.join(', ')} ${heads.length === 1 ? 'is a probe head' : 'are probe heads'} without its backbone`,
      'Drop the matching *_backbone.pth together with the head.',
    );
  const safetensors = names.filter((n) => n.endsWith('.safetensors') && !n.startsWith('cases'));
  if (safetensors.length) return { weights: safetensors.sort(), heads: [] };
  throw new CheckpointFileError(
    `no weights among ${names.join(', ') || 'the dropped files'}`,
    'Drop config.json with pytorch_model.bin, or a *_backbone.pth + *_head_*.pth pair, or *.safetensors.',
  );
}

/** A source that counts the bytes read and can be stopped between reads. */
export interface CountingSource extends ByteSource {
  readonly counter: ReadCounter;
}

export class ReadCounter {
  bytes = 0;
  /** Set by cancel(): the next read throws it. */
  stop?: Error;
}

export function countingSource(inner: ByteSource, counter: ReadCounter): ByteSource {
  return {
    name: inner.name,
    size: inner.size,
    async read(offset, length) {
      if (counter.stop) throw counter.stop;
      const bytes = await inner.read(offset, length);
      counter.bytes += bytes.byteLength;
      return bytes;
    },
  };
}

/** The open checkpoint a plan describes, kept in the worker until it is converted. */
export interface OpenedCheckpoint {
  config: AimOnnxConfig;
  weights: WeightSource;
  counter: ReadCounter;
  plan: ConvertPlan;
  /** Identifies the dropped files, so converting them again replaces the cached copy. */
  sourceKey: string;
}

/** The architecture memoryPlan.ts estimates from, as the export will read it. */
export function architectureOf(
  c: AimOnnxConfig,
  weights: WeightSource,
  mode: FeatureMode,
): AimArchitecture {
  const probe = mode === 'probe-layers' && hasProbeHead(weights);
  const predictor = mode === 'post-trunk-norm' ? predictionHeadOf(weights) : undefined;
  return {
    imgSize: c.imageHeight,
    patchSize: c.patchHeight,
    channels: c.channels,
    embedDim: c.embedDim,
    numBlocks: c.numBlocks,
    numHeads: c.numHeads,
    mlpRatio: c.mlpHidden / c.embedDim,
    blocks: mode === 'probe-layers' ? Math.max(...c.probeLayers) + 1 : undefined,
    probeLayers: c.probeLayers.length,
    probe: probe
      ? {
          classes: c.numClasses,
          queries: weights.info('head.cls_token').shape[1] ?? 1,
          batchNorm: weights.has('head.bn.running_mean'),
          linearBias: weights.has('head.linear.bias'),
        }
      : undefined,
    linearBiases: weights.has('trunk.blocks.0.attn.qkv.bias'),
    predictionHead: predictor && {
      width: predictor.width,
      depth: predictor.depth,
      extraNorm: predictor.extraNorm,
    },
  };
}

/** Plans every format for an opened checkpoint; fit against `limits` on `backend`. */
export function planFormats(
  c: AimOnnxConfig,
  weights: WeightSource,
  mode: FeatureMode,
  target: { limits?: AdapterLimitsLike; backend: 'webgpu' | 'wasm'; freeBytes?: number },
): FormatPlan[] {
  const arch = architectureOf(c, weights, mode);
  return WEIGHT_FORMATS.map((format) => {
    const estimate = estimateForConfig(arch, format);
    const outputBytes = estimate.downloadBytes;
    const limits = target.limits ?? {
      maxBufferSize: 2 ** 32,
      maxStorageBufferBindingSize: 2 ** 32,
    };
    const backend = target.limits ? target.backend : 'wasm';
    const room = target.freeBytes;
    return {
      format,
      outputBytes,
      shardCount: estimate.shardBytes?.length ?? 1,
      estimate,
      fit: checkFits(estimate, limits, backend),
      storageShort:
        room !== undefined && room < outputBytes * 1.05
          ? `this site may store ${formatBytes(room)} more, the ${format} model needs about ${formatBytes(outputBytes)}`
          : undefined,
    };
  });
}

async function readConfig(file: File): Promise<unknown> {
  if (file.size > MAX_CONFIG_BYTES)
    throw new CheckpointFileError(
      `${file.name} is ${formatBytes(file.size)}, too large to be ml-aim's config.json`,
    );
  try {
    return JSON.parse(await file.text()) as unknown;
  } catch (error) {
    throw new CheckpointFileError(
      `${file.name} is not valid JSON (${(error as Error).message})`,
      'Drop the config.json that came with the checkpoint.',
    );
  }
}

/** The checkpoint's errors as the page states them (the CLI's rules, the page's words). */
export function asCheckpointFileError(error: unknown): unknown {
  if (error instanceof CheckpointFileError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TorchCheckpointError || error instanceof ByteSourceError) {
    if (/refusing|REDUCE on|not allowed|global/i.test(message))
      return new CheckpointFileError(
        message,
        'This file asks to run code when it is read (a pickle global outside the tensor whitelist), so it was refused. Use the checkpoint as Apple published it.',
      );
    if (/truncated|past the end|shrank|changed/i.test(message))
      return new CheckpointFileError(
        message,
        'The file is incomplete (a download cut short?). Download it again and drop the whole file.',
      );
    return new CheckpointFileError(message, 'This is not a PyTorch checkpoint this page can read.');
  }
  if (error instanceof SafetensorsError)
    return new CheckpointFileError(message, 'This safetensors file cannot be read.');
  if (error instanceof AimCheckpointError) {
    if (/overlapping keys/.test(message))
      return new CheckpointFileError(
        message,
        'Two of the dropped files hold the same tensor: drop one backbone with one head.',
      );
    return new CheckpointFileError(
      message,
      /config/i.test(message)
        ? 'config.json does not describe these weights: drop the config.json that came with them.'
        : undefined,
    );
  }
  return error;
}

/** A short label for the cache list: the folder or file, the shape, the format. */
function labelOf(files: readonly File[], weights: string[], c: AimOnnxConfig): string {
  const first = files.find((f) => f.name === weights[0]);
  const folder = first?.webkitRelativePath?.split('/').slice(-2, -1)[0];
  return `${folder ? `${folder}/` : ''}${weights.join(' + ')} · AIM ${c.embedDim}×${c.numBlocks}`;
}

/** Reads the dropped files' directories and config, checks them, and plans every format. */
export async function inspectCheckpointFiles(
  files: readonly File[],
  options: {
    head?: string;
    limits?: AdapterLimitsLike;
    backend: 'webgpu' | 'wasm';
    freeBytes?: number;
  },
): Promise<OpenedCheckpoint> {
  try {
    const names = files.map((f) => f.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new CheckpointFileError(`${dup} was dropped twice`, 'Drop each file once.');
    const chosen = chooseDroppedWeights(names, options.head);
    const byName = new Map(files.map((f) => [f.name, f]));
    const counter = new ReadCounter();
    const sources = chosen.weights.map((n) =>
      countingSource(blobByteSource(byName.get(n)!, n), counter),
    );
    const opened = await openWeights(sources);
    const configFile = byName.get('config.json');
    const raw = configFile ? await readConfig(configFile) : opened.embeddedConfig;
    if (raw === undefined)
      throw new CheckpointFileError(
        'no config.json among the dropped files',
        'Drop config.json together with the weights: it holds the model’s shape.',
      );
    const config = parseAimConfig(raw);
    const weights = opened.weights;
    const mode = featureModeOf(config, weights);
    const expected = expectedTensors(config, weights, mode);
    checkTensors(expected, weights);
    let bytesToRead = 0;
    let largest = { name: '', bytes: 0 };
    for (const e of expected) {
      const info = weights.info(e.name);
      const numel = info.shape.reduce((a, b) => a * b, 1);
      bytesToRead += numel * DTYPE_BYTES[info.dtype];
      if (numel * 4 > largest.bytes) largest = { name: e.name, bytes: numel * 4 };
    }
    const used = new Set([...chosen.weights, ...(configFile ? ['config.json'] : [])]);
    const label = labelOf(files, chosen.weights, config);
    const plan: ConvertPlan = {
      layout: opened.layout,
      files: files.map((f) => ({
        name: f.name,
        bytes: f.size,
        role:
          f.name === 'config.json' && configFile
            ? 'config'
            : used.has(f.name)
              ? 'weights'
              : 'unused',
      })),
      heads: chosen.heads,
      head: chosen.head,
      config,
      featureMode: mode,
      hasProbe: mode === 'probe-layers' && hasProbeHead(weights),
      blocks: mode === 'probe-layers' ? Math.max(...config.probeLayers) + 1 : config.numBlocks,
      tensorsToRead: expected.length,
      bytesToRead,
      largestTensor: largest,
      formats: planFormats(config, weights, mode, options),
      freeBytes: options.freeBytes,
      label,
    };
    const sourceKey = files
      .filter((f) => used.has(f.name))
      .map((f) => `${f.name}:${f.size}:${f.lastModified}`)
      .sort()
      .join('|');
    return { config, weights, counter, plan, sourceKey };
  } catch (error) {
    throw asCheckpointFileError(error);
  }
}
