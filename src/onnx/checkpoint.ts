/**
 * An AIM checkpoint as the exporter sees it: ml-aim's config (the keyword arguments of its
 * model builder, from `config.json`, or from the metadata of this project's own safetensors
 * checkpoints) and a WeightSource that reads one tensor at a time, as f32, from any of the
 * layouts Apple publishes and this project writes:
 *
 *   pytorch_model.bin                       one torch.save archive (backbone + probe head)
 *   *_backbone.pth + *_head_*.pth           two torch.save archives, merged; a key present in
 *                                           both is refused rather than silently overwritten
 *   *.safetensors                           ours, or fp16/bf16 community copies (several
 *                                           shards are merged the same way)
 */
import { halfToFloat } from '../data/safetensors';
import type { AimShape } from '../model/shape';
import type { ByteSource } from './byteSource';
import { openTorchCheckpoint } from './torchZip';
import { isMlL3mLayout, mlL3mAsMlAim } from './l3mKeys';
import { openSafetensors } from './safetensorsSource';

export class AimCheckpointError extends Error {
  override readonly name = 'AimCheckpointError';
}

export type WeightDType =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface WeightInfo {
  name: string;
  dtype: WeightDType;
  shape: readonly number[];
  /** The file it comes from (for messages). */
  file: string;
}

export interface WeightSource {
  readonly names: readonly string[];
  has(name: string): boolean;
  info(name: string): WeightInfo;
  /** The tensor as f32 (F64 rounded to nearest, F16/BF16 widened exactly). */
  readFloat32(name: string): Promise<Float32Array>;
}

/** ml-aim's builder arguments, resolved (probe layers as a list of block indices). */
export interface AimOnnxConfig {
  imageHeight: number;
  imageWidth: number;
  patchHeight: number;
  patchWidth: number;
  channels: number;
  embedDim: number;
  numBlocks: number;
  numHeads: number;
  mlpHidden: number;
  /** Block indices averaged into the features (ml-aim's AverageLayers), sorted. */
  probeLayers: number[];
  /** True when `probe_layers` came from the config, false when ml-aim's default (6) was used. */
  probeLayersGiven: boolean;
  numClasses: number;
  /** The probe's class names (`class_names`), when the checkpoint's config names them. */
  classNames?: string[];
  normEps: number;
  /** LayerNorm ε of this project's prediction head (ml-l3m's 1e-5). */
  headNormEps: number;
}

export function gridOf(c: AimOnnxConfig): { h: number; w: number; tokens: number } {
  const h = c.imageHeight / c.patchHeight;
  const w = c.imageWidth / c.patchWidth;
  return { h, w, tokens: h * w };
}

const ML_AIM_DEFAULT_PROBE_LAYERS = 6;

function pair(v: unknown, what: string): [number, number] {
  if (Number.isInteger(v) && (v as number) > 0) return [v as number, v as number];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x > 0)) {
    return [v[0] as number, v[1] as number];
  }
  throw new AimCheckpointError(
    `config: ${what} must be a positive integer or a pair (got ${JSON.stringify(v)})`,
  );
}

function positive(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new AimCheckpointError(
      `config: ${what} must be a positive integer (got ${JSON.stringify(v)})`,
    );
  }
  return v as number;
}

/**
 * Parses ml-aim's config.json (`img_size`, `patch_size`, `embed_dim`, `num_blocks`,
 * `num_heads`, optional `probe_layers` (int = last N blocks, or a list), `num_classes`
 * (default 1000), `num_channels` (3), `mlp_ratio` (4) / `mlp_hidden_dim`), or this
 * project's AimConfig (`imageSize`, `patchSize`, `width`, `depth`, `heads`, `mlpRatio`).
 */
export function parseAimConfig(json: unknown): AimOnnxConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new AimCheckpointError('config: not a JSON object');
  }
  const j = json as Record<string, unknown>;
  const ours = j.embed_dim === undefined && j.width !== undefined;
  const [imageHeight, imageWidth] = pair(ours ? j.imageSize : j.img_size, 'img_size');
  const [patchHeight, patchWidth] = pair(ours ? j.patchSize : j.patch_size, 'patch_size');
  const embedDim = positive(ours ? j.width : j.embed_dim, 'embed_dim');
  const numBlocks = positive(ours ? j.depth : j.num_blocks, 'num_blocks');
  const numHeads = positive(ours ? j.heads : j.num_heads, 'num_heads');
  const channels = positive((ours ? j.channels : j.num_channels) ?? 3, 'num_channels');
  const ratio = (ours ? j.mlpRatio : j.mlp_ratio) ?? 4;
  if (typeof ratio !== 'number' || !(ratio > 0))
    throw new AimCheckpointError('config: mlp_ratio must be positive');
  const mlpHidden =
    j.mlp_hidden_dim !== undefined && j.mlp_hidden_dim !== null
      ? positive(j.mlp_hidden_dim, 'mlp_hidden_dim')
      : Math.trunc(ratio * embedDim); // ml-aim: int(mlp_ratio * embed_dim)
  const numClasses = positive(j.num_classes ?? 1000, 'num_classes');
  const names = j.class_names;
  if (
    names !== undefined &&
    (!Array.isArray(names) ||
      names.length !== numClasses ||
      !names.every((n) => typeof n === 'string'))
  )
    throw new AimCheckpointError(`config: class_names must be ${numClasses} strings`);
  const normEps = ours && typeof j.trunkNormEps === 'number' ? j.trunkNormEps : 1e-6;
  const headNormEps = ours && typeof j.headNormEps === 'number' ? j.headNormEps : 1e-5;
  if (imageHeight % patchHeight || imageWidth % patchWidth) {
    throw new AimCheckpointError(
      `config: image ${imageHeight}×${imageWidth} is not divisible by the patch ${patchHeight}×${patchWidth}`,
    );
  }
  if (embedDim % numHeads)
    throw new AimCheckpointError(
      `config: embed_dim ${embedDim} is not divisible by ${numHeads} heads`,
    );
  if (embedDim % 4)
    throw new AimCheckpointError(
      `config: embed_dim ${embedDim} must be divisible by 4 (2-D sin-cos positions)`,
    );
  const rawProbe = j.probe_layers;
  const probeLayersGiven = rawProbe !== undefined && rawProbe !== null;
  let probeLayers: number[];
  if (!probeLayersGiven || Number.isInteger(rawProbe)) {
    // ml-aim: an int N means the last N blocks, range(num_blocks - N, num_blocks).
    const n = probeLayersGiven
      ? (rawProbe as number)
      : Math.min(ML_AIM_DEFAULT_PROBE_LAYERS, numBlocks);
    if (n < 1 || n > numBlocks) {
      throw new AimCheckpointError(
        `config: probe_layers ${n} must be between 1 and num_blocks ${numBlocks}`,
      );
    }
    probeLayers = Array.from({ length: n }, (_, i) => numBlocks - n + i);
  } else if (
    Array.isArray(rawProbe) &&
    rawProbe.length > 0 &&
    rawProbe.every((x) => Number.isInteger(x))
  ) {
    probeLayers = [...new Set(rawProbe as number[])].sort((a, b) => a - b);
    if (probeLayers.length !== rawProbe.length)
      throw new AimCheckpointError('config: probe_layers has duplicates');
    const bad = probeLayers.filter((l) => l < 0 || l >= numBlocks);
    if (bad.length) {
      throw new AimCheckpointError(
        `config: probe_layers ${bad.join(', ')} outside blocks 0…${numBlocks - 1}`,
      );
    }
  } else {
    throw new AimCheckpointError(
      `config: probe_layers must be an int (last N blocks) or a non-empty list of block indices (got ${JSON.stringify(rawProbe)})`,
    );
  }
  return {
    imageHeight,
    imageWidth,
    patchHeight,
    patchWidth,
    channels,
    embedDim,
    numBlocks,
    numHeads,
    mlpHidden,
    probeLayers,
    probeLayersGiven,
    numClasses,
    classNames: names as string[] | undefined,
    normEps,
    headNormEps,
  };
}

/**
 * The shape of ml-aim's model for a parsed config.json (`parseAimConfig`): every block and
 * post_trunk_norm, no head unless `parts` says otherwise (the config does not tell which
 * head a checkpoint carries: its tensors do, see aimTensors.ts).
 */
export function shapeFromMlAimConfig(
  c: AimOnnxConfig,
  parts: Partial<Pick<AimShape, 'depth' | 'postTrunkNorm' | 'linearBiases' | 'head'>> = {},
): AimShape {
  return {
    imageHeight: c.imageHeight,
    imageWidth: c.imageWidth,
    patchHeight: c.patchHeight,
    patchWidth: c.patchWidth,
    channels: c.channels,
    width: c.embedDim,
    depth: c.numBlocks,
    heads: c.numHeads,
    mlpHidden: c.mlpHidden,
    linearBiases: false,
    postTrunkNorm: true,
    head: { kind: 'none' },
    ...parts,
  };
}

let halfTable: Float32Array | undefined;

/** All 65536 binary16 values as f32 (exact), so widening a multi-GB fp16 file is a lookup. */
function halfToFloatTable(): Float32Array {
  if (!halfTable) halfTable = Float32Array.from({ length: 0x10000 }, (_, h) => halfToFloat(h));
  return halfTable;
}

/** Raw little-endian bytes of a floating dtype → f32. */
export function bytesToFloat32(bytes: Uint8Array, dtype: WeightDType, label: string): Float32Array {
  // Reads return fresh arrays, usually a whole buffer: view that in place, else copy to align.
  const own =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
  const buffer = own.buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer);
    case 'F64':
      return Float32Array.from(new Float64Array(buffer));
    case 'F16': {
      const table = halfToFloatTable();
      const halves = new Uint16Array(buffer);
      const out = new Float32Array(halves.length);
      for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]];
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of an f32: shift the bits into place.
      const out = new Uint32Array(bytes.byteLength / 2);
      const halves = new Uint16Array(buffer);
      for (let i = 0; i < halves.length; i++) out[i] = halves[i] << 16;
      return new Float32Array(out.buffer);
    }
    default:
      throw new AimCheckpointError(`${label} is ${dtype}, not a floating-point tensor`);
  }
}

interface Reader {
  info: WeightInfo;
  read: () => Promise<Uint8Array>;
}

/** Several files' tensors under one name space; a key in two files is an error. */
function mergedSource(readers: Map<string, Reader>): WeightSource {
  return {
    names: [...readers.keys()],
    has: (name) => readers.has(name),
    info(name) {
      const r = readers.get(name);
      if (!r) throw new AimCheckpointError(`checkpoint has no tensor "${name}"`);
      return r.info;
    },
    async readFloat32(name) {
      const r = readers.get(name);
      if (!r) throw new AimCheckpointError(`checkpoint has no tensor "${name}"`);
      return bytesToFloat32(await r.read(), r.info.dtype, `${r.info.file}: ${name}`);
    },
  };
}

function addReader(readers: Map<string, Reader>, reader: Reader) {
  const existing = readers.get(reader.info.name);
  if (existing) {
    throw new AimCheckpointError(
      `"${reader.info.name}" is in both ${existing.info.file} and ${reader.info.file}: refusing to merge checkpoints with overlapping keys`,
    );
  }
  readers.set(reader.info.name, reader);
}

export type CheckpointLayout = 'pytorch_model.bin' | 'pth-pair' | 'safetensors';

export interface OpenedWeights {
  weights: WeightSource;
  layout: CheckpointLayout;
  files: string[];
  /** `model_config` from a safetensors file's metadata (this project's checkpoints). */
  embeddedConfig?: unknown;
}

/** Opens torch.save archives and/or safetensors files as one WeightSource (keys must be disjoint). */
export async function openWeights(sources: readonly ByteSource[]): Promise<OpenedWeights> {
  if (sources.length === 0) throw new AimCheckpointError('no weight files given');
  const readers = new Map<string, Reader>();
  let embeddedConfig: unknown;
  let torch = 0;
  for (const source of sources) {
    if (source.name.endsWith('.safetensors')) {
      const st = await openSafetensors(source);
      for (const [name, e] of st.entries) {
        addReader(readers, {
          info: { name, dtype: e.dtype, shape: e.shape, file: source.name },
          read: () => st.readBytes(name),
        });
      }
      if (st.metadata.model_config && embeddedConfig === undefined) {
        try {
          embeddedConfig = JSON.parse(st.metadata.model_config);
        } catch {
          throw new AimCheckpointError(`${source.name}: metadata model_config is not valid JSON`);
        }
      }
    } else {
      torch++;
      const sd = await openTorchCheckpoint(source);
      for (const [name, t] of sd.tensors) {
        addReader(readers, {
          info: { name, dtype: t.storage.dtype, shape: t.shape, file: source.name },
          read: () => sd.readBytes(name),
        });
      }
    }
  }
  const layout: CheckpointLayout =
    torch === 0 ? 'safetensors' : torch === 1 ? 'pytorch_model.bin' : 'pth-pair';
  const merged = mergedSource(readers);
  return {
    // ml-l3m's layout (separate q/k/v, its preprocessor and head names) is read as ml-aim's.
    weights: isMlL3mLayout(merged.names) ? mlL3mAsMlAim(merged) : merged,
    layout,
    files: sources.map((s) => s.name),
    embeddedConfig,
  };
}

/**
 * Picks the weight files of a checkpoint directory by name, in the order the issue lists:
 * `pytorch_model.bin`; else one `*_backbone.pth` with one `*_head_*.pth` (`head` chooses
 * among several, e.g. "best" or "last"); else every `*.safetensors` except `cases.*`.
 */
export function chooseWeightFiles(fileNames: readonly string[], head?: string): string[] {
  if (fileNames.includes('pytorch_model.bin')) return ['pytorch_model.bin'];
  const backbones = fileNames.filter((f) => f.endsWith('_backbone.pth'));
  let heads = fileNames.filter((f) => /_head_.*\.pth$/.test(f));
  if (head) heads = heads.filter((f) => f.includes(`_head_${head}`));
  if (backbones.length > 1)
    throw new AimCheckpointError(`several backbones: ${backbones.join(', ')}`);
  if (backbones.length === 1) {
    if (heads.length > 1) {
      throw new AimCheckpointError(
        `several probe heads (${heads.join(', ')}): choose one with --head (e.g. best or last)`,
      );
    }
    return [backbones[0], ...heads];
  }
  const safetensors = fileNames.filter((f) => f.endsWith('.safetensors') && !f.startsWith('cases'));
  if (safetensors.length) return safetensors.sort();
  throw new AimCheckpointError(
    'no weights found: expected pytorch_model.bin, a *_backbone.pth (+ *_head_*.pth) pair, or *.safetensors',
  );
}
