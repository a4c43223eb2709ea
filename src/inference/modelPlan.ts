/**
 * What loading an ONNX model directory will take, decided from `model.onnx` alone, before any
 * external-data shard (gigabytes for the large AIM models) is fetched: is the file an ONNX
 * model at all, is it AIM-shaped (images [N, 3, H, W] → features [N, K, D], optionally
 * logits [N, C] and patch_predictions [N, K, P]), which shard files it needs and how big
 * they must be, the total download, and what the weights weigh.
 *
 * The exporter (src/onnx/export.ts) records the shard names and exact sizes in
 * `aim.external_data` and an export id in `aim.export_id` that each shard's 64-byte tag
 * repeats, so `checkShardFiles` can refuse a truncated or mixed set from file sizes and 64
 * bytes per shard. Models exported by other tools have no such metadata; they are planned
 * from the initializers' external locations alone, and a shard only has to be long enough.
 *
 * Every error is a ModelFileError whose message is a sentence for the user naming the file.
 */
import onnxProto from 'onnx-proto';
import type { AimOnnxConfig } from '../onnx/checkpoint';
import { readShardTag } from '../onnx/externalData';
import { summarizeModel } from '../onnx/graph';

export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';
}

export interface ShardRequirement {
  name: string;
  /** Bytes the tensors reach: max(offset + length). */
  requiredBytes: number;
  /** Exact size from aim.external_data when present. */
  expectedBytes?: number;
  tensors: number;
}

export type ModelFormat = 'fp32' | 'fp16' | 'int4' | 'unknown';

export interface AimModelPlan {
  modelFileName: string;
  modelBytes: number;
  input: { name: string; channels: number; height: number; width: number };
  features: { tokens: number; dim: number };
  logits?: { classes: number };
  patchPredictions?: { values: number };
  shards: ShardRequirement[];
  /** Model file + every shard (expectedBytes ?? requiredBytes), known before any shard is fetched. */
  totalBytes: number;
  /** Sum of initializer bytes, external and inline. */
  weightBytes: number;
  /** The external part of weightBytes (what the shards hold, without tags and padding). */
  externalWeightBytes: number;
  /** weightBytes by ONNX data type name (FLOAT, FLOAT16, UINT8, …). */
  weightBytesByType: Record<string, number>;
  largestTensor: { name: string; bytes: number; dataType: string };
  format: ModelFormat;
  exportId?: string;
  /** Parsed aim.config when present. */
  config?: AimOnnxConfig;
  /** aim.features: which representation `features` is. */
  featureMode?: 'probe-layers' | 'post-trunk-norm';
  /** Trunk blocks in the graph (aim.blocks). */
  blocks?: number;
  /** The probe's class names (aim.class_names), one per logit, when the export names them. */
  classNames?: string[];
  /** Parsed aim.preprocessing (resize, crop, mean, std) when present. */
  preprocessing?: Record<string, unknown>;
  nodeCount: number;
  opsets: string[];
  producer?: string;
}

const { onnx } = onnxProto;

/**
 * ONNX TensorProto.DataType names and bits per element, by enum value (STRING has no fixed
 * size). Past BFLOAT16 (16) they are newer than onnx-proto's schema, but a newer tool's file
 * may use them.
 */
const DATA_TYPES = (
  'UNDEFINED:NaN FLOAT:32 UINT8:8 INT8:8 UINT16:16 INT16:16 INT32:32 INT64:64 STRING:NaN BOOL:8 ' +
  'FLOAT16:16 DOUBLE:64 UINT32:32 UINT64:64 COMPLEX64:64 COMPLEX128:128 BFLOAT16:16 FLOAT8E4M3FN:8 ' +
  'FLOAT8E4M3FNUZ:8 FLOAT8E5M2:8 FLOAT8E5M2FNUZ:8 UINT4:4 INT4:4 FLOAT4E2M1:4'
)
  .split(' ')
  .map((e): [string, number] => [e.split(':')[0], Number(e.split(':')[1])]);

export function dataTypeName(dataType: number): string {
  return DATA_TYPES[dataType]?.[0] ?? `type ${dataType}`;
}

/** Bytes of a tensor from its shape, or NaN when the type has no fixed size. */
export function tensorBytes(dataType: number, dims: readonly number[]): number {
  const bits = DATA_TYPES[dataType]?.[1] ?? NaN;
  return Math.ceil((dims.reduce((a, d) => a * d, 1) * bits) / 8);
}

/** A thousands-separated byte count, as the messages print them. */
export const formatCount = (n: number) => n.toLocaleString('en-US');

/** What a non-ONNX file most likely is, from its first bytes (for the error message). */
function sniff(b: Uint8Array): string | undefined {
  const text = new TextDecoder('latin1').decode(b.subarray(0, 16));
  const u64 = b.length > 8 ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : 0n;
  const checkpoint = 'a checkpoint: convert it with `npm run export` first';
  const kinds: [boolean, string][] = [
    [b.length === 0, 'the file is empty'],
    [b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff, 'it is a JPEG image'],
    [text.startsWith('\x89PNG') || text.startsWith('GIF8'), 'it is a PNG or GIF image'],
    [text.startsWith('RIFF') && text.slice(8, 12) === 'WEBP', 'it is a WebP image'],
    [readShardTag(b) !== undefined, 'it is a data file of an AIM export; choose its .onnx file'],
    [text.startsWith('PK\x03\x04'), `it is a zip archive, perhaps ${checkpoint}`],
    [b[0] === 0x80 && b[1] >= 2 && b[1] <= 5, 'it is a Python pickle'],
    [b[8] === 0x7b && u64 < BigInt(b.length), `it is a safetensors file, ${checkpoint}`],
    [b[0] === 0x1f && b[1] === 0x8b, 'it is gzip-compressed'],
    [/^\s*[{[<]/.test(text), 'it is a text file (JSON, HTML or XML)'],
  ];
  return kinds.find(([hit]) => hit)?.[1];
}

const shapeText = (dims: readonly (number | string)[]) => `[${dims.join(', ')}]`;
const fixed = (d: number | string | undefined): d is number =>
  typeof d === 'number' && Number.isInteger(d) && d > 0;

function parseJson(text: string | undefined, file: string, key: string): unknown {
  try {
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    throw new ModelFileError(`${file} has damaged metadata: ${key} is not valid JSON.`);
  }
}

function decode(bytes: Uint8Array, file: string) {
  // Images, text and archives often decode as protobuf garbage rather than failing: name them.
  const hint = sniff(bytes);
  if (hint) throw new ModelFileError(`${file} is not an ONNX model (${hint}).`);
  try {
    // summarizeModel drops element types and the producer; decoding the (small, weights
    // external) model file twice is simpler than a second copy of its extraction.
    const proto = onnx.ModelProto.decode(bytes);
    const summary = summarizeModel(bytes);
    if (proto.graph && summary.nodes.length && summary.inputs.length) return { proto, summary };
  } catch (e) {
    const why = `it does not decode as an ONNX protobuf: ${(e as Error).message}`;
    throw new ModelFileError(`${file} is not an ONNX model (${why}).`);
  }
  throw new ModelFileError(
    `${file} is not an ONNX model (it holds no graph with nodes and inputs).`,
  );
}

/** The AIM contract: one float input [N, 3, H, W], float `features` [N, K, D], optional heads. */
function checkShape(bytes: Uint8Array, file: string) {
  const { proto, summary } = decode(bytes, file);
  const fail = (what: string): never => {
    throw new ModelFileError(`${file} is an ONNX model but not an AIM model: ${what}.`);
  };
  const elemTypes = new Map(
    [...(proto.graph?.input ?? []), ...(proto.graph?.output ?? [])].map((v) => [
      v.name ?? '',
      v.type?.tensorType?.elemType ?? 0,
    ]),
  );
  const typeOf = (name: string) => dataTypeName(elemTypes.get(name) ?? 0);
  // Older IRs list the initializers among the inputs too.
  const weights = new Set(summary.initializers.map((t) => t.name));
  const inputs = summary.inputs.filter((i) => !weights.has(i.name));
  if (inputs.length !== 1) {
    const names = inputs.map((i) => i.name).join(', ');
    fail(`it takes ${inputs.length} inputs (${names}), expected one image batch [N, 3, H, W]`);
  }
  const img = inputs[0];
  const [, channels, height, width] = img.dims;
  if (img.dims.length !== 4 || channels !== 3 || !fixed(height) || !fixed(width))
    fail(`its input ${img.name} is ${shapeText(img.dims)}, expected [N, 3, H, W] with fixed H, W`);
  if (typeOf(img.name) !== 'FLOAT')
    fail(`its input ${img.name} holds ${typeOf(img.name)}, expected FLOAT (float32) images`);
  const output = (name: string) => summary.outputs.find((o) => o.name === name);
  const names = summary.outputs.map((o) => o.name).join(', ');
  const features = output('features') ?? fail(`it has no output named features (only ${names})`);
  const [, tokens, dim] = features.dims;
  const shaped = features.dims.length === 3 && fixed(tokens) && fixed(dim);
  if (!shaped || typeOf('features') !== 'FLOAT')
    fail(
      `its features output is ${typeOf('features')} ${shapeText(features.dims)}, expected FLOAT [N, K, D]`,
    );
  const logits = output('logits');
  if (logits && (logits.dims.length !== 2 || !fixed(logits.dims[1])))
    fail(`its logits output is ${shapeText(logits.dims)}, expected [N, classes]`);
  const pred = output('patch_predictions');
  if (pred && (pred.dims.length !== 3 || pred.dims[1] !== tokens || !fixed(pred.dims[2])))
    fail(`its patch_predictions output is ${shapeText(pred.dims)}, expected [N, ${tokens}, P]`);
  return {
    proto,
    summary,
    input: { name: img.name, channels: 3, height: height as number, width: width as number },
    features: { tokens: tokens as number, dim: dim as number },
    logits: logits ? { classes: logits.dims[1] as number } : undefined,
    patchPredictions: pred ? { values: pred.dims[2] as number } : undefined,
  };
}

/** aim.external_data ([{name, bytes}]) and aim.config, checked enough to be relied on. */
function aimMetadata(meta: Record<string, string>, file: string) {
  const damaged = (what: string) => new ModelFileError(`${file} has damaged metadata: ${what}.`);
  const listed = new Map<string, number>();
  const list = parseJson(meta['aim.external_data'], file, 'aim.external_data') ?? [];
  if (!Array.isArray(list)) throw damaged('aim.external_data is not a list of files');
  for (const e of list as { name?: unknown; bytes?: unknown }[]) {
    if (typeof e?.name !== 'string' || !Number.isSafeInteger(e.bytes) || (e.bytes as number) < 0)
      throw damaged('aim.external_data is not a list of files');
    listed.set(e.name, e.bytes as number);
  }
  const config = parseJson(meta['aim.config'], file, 'aim.config') as AimOnnxConfig | undefined;
  const keys = ['imageHeight', 'imageWidth', 'patchHeight', 'patchWidth', 'channels', 'embedDim'];
  keys.push('numBlocks', 'numHeads', 'mlpHidden', 'numClasses');
  const c = config as unknown as Record<string, number> | undefined;
  if (c !== undefined && (!keys.every((k) => fixed(c?.[k])) || !Array.isArray(config?.probeLayers)))
    throw damaged('aim.config is not an AIM configuration');
  return { listed, config };
}

/** Decides what loading the model in `bytes` needs; throws ModelFileError when it cannot load. */
export function planAimModel(bytes: Uint8Array, fileName = 'model.onnx'): AimModelPlan {
  const shape = checkShape(bytes, fileName);
  const { proto, summary } = shape;
  const meta = summary.metadata;
  const { listed, config } = aimMetadata(meta, fileName);
  // estimateForPlan trusts the config's heads and MLP width: it must describe this graph.
  const said = config && `${config.imageHeight}×${config.imageWidth}, width ${config.embedDim}`;
  const is = `${shape.input.height}×${shape.input.width}, width ${shape.features.dim}`;
  if (said && said !== is)
    throw new ModelFileError(
      `${fileName} contradicts itself: its metadata says ${said}, its graph ${is}.`,
    );

  const damaged = (what: string) => new ModelFileError(`${fileName} is damaged: ${what}.`);
  const shards = new Map<string, ShardRequirement>();
  const byType: Record<string, number> = {};
  let weightBytes = 0;
  let externalWeightBytes = 0;
  let largest = { name: '', bytes: 0, dataType: 'FLOAT' };
  for (const t of summary.initializers) {
    const fromShape = tensorBytes(t.dataType, t.dims);
    let size = t.inlineBytes || (Number.isFinite(fromShape) ? fromShape : 0);
    if (t.external) {
      const { location: where, offset } = t.external;
      // ONNX lets `length` be omitted: then the shape says it.
      const length = Number.isFinite(t.external.length) ? t.external.length : fromShape;
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length))
        throw damaged(`tensor ${t.name} has no valid place in ${where}`);
      if (Number.isFinite(fromShape) && length !== fromShape) {
        const needs = `${shapeText(t.dims)} ${dataTypeName(t.dataType)} needs ${formatCount(fromShape)}`;
        throw damaged(`tensor ${t.name} stores ${formatCount(length)} bytes, its ${needs}`);
      }
      // A loader resolves locations against the model's folder: refuse anything leaving it.
      if (where === '' || /^([/\\]|[a-zA-Z]:)|(^|[/\\])\.\.([/\\]|$)/.test(where))
        throw damaged(
          `tensor ${t.name} lies outside the model's folder (${JSON.stringify(where)})`,
        );
      const shard = shards.get(where) ?? { name: where, requiredBytes: 0, tensors: 0 };
      shard.requiredBytes = Math.max(shard.requiredBytes, offset + length);
      shard.tensors++;
      shards.set(where, shard);
      size = length;
      externalWeightBytes += length;
    }
    weightBytes += size;
    const type = dataTypeName(t.dataType);
    byType[type] = (byType[type] ?? 0) + size;
    if (size > largest.bytes) largest = { name: t.name, bytes: size, dataType: type };
  }
  for (const shard of shards.values()) {
    const expected = listed.get(shard.name);
    if (expected !== undefined && expected < shard.requiredBytes) {
      const says = `lists ${shard.name} as ${formatCount(expected)} bytes`;
      throw damaged(`its metadata ${says}, its tensors reach ${formatCount(shard.requiredBytes)}`);
    }
    if (expected !== undefined) shard.expectedBytes = expected;
  }
  // The exporter's order (data_0, data_1, …), then a numeric sort for other tools' files.
  const order = [
    ...listed.keys(),
    ...[...shards.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
  ];
  const shardList = [...shards.values()].sort(
    (a, b) => order.indexOf(a.name) - order.indexOf(b.name),
  );

  const declared = meta['aim.format'];
  const floats = (byType.FLOAT ?? 0) + (byType.INT64 ?? 0);
  const format: ModelFormat =
    declared === 'fp32' || declared === 'fp16' || declared === 'int4'
      ? declared
      : summary.nodes.some((n) => n.opType === 'MatMulNBits')
        ? 'int4'
        : (byType.FLOAT16 ?? 0) > (byType.FLOAT ?? 0)
          ? 'fp16'
          : floats === weightBytes
            ? 'fp32'
            : 'unknown';
  const mode = meta['aim.features'];
  const blocks = Number(meta['aim.blocks']);
  const prep = parseJson(meta['aim.preprocessing'], fileName, 'aim.preprocessing');
  const classNames = parseJson(meta['aim.class_names'], fileName, 'aim.class_names');
  if (
    classNames !== undefined &&
    (!Array.isArray(classNames) ||
      classNames.length !== shape.logits?.classes ||
      !classNames.every((n) => typeof n === 'string'))
  )
    throw new ModelFileError(
      `${fileName} has damaged metadata: aim.class_names is not one name per logit.`,
    );
  const producer = [proto.producerName, proto.producerVersion].filter(Boolean).join(' ');
  return {
    modelFileName: fileName,
    modelBytes: bytes.byteLength,
    input: shape.input,
    features: shape.features,
    logits: shape.logits,
    patchPredictions: shape.patchPredictions,
    shards: shardList,
    totalBytes: shardList.reduce(
      (a, s) => a + (s.expectedBytes ?? s.requiredBytes),
      bytes.byteLength,
    ),
    weightBytes,
    externalWeightBytes,
    weightBytesByType: byType,
    largestTensor: largest,
    format,
    exportId: meta['aim.export_id'] || undefined,
    config,
    featureMode: mode === 'probe-layers' || mode === 'post-trunk-norm' ? mode : undefined,
    blocks: Number.isInteger(blocks) && blocks > 0 ? blocks : undefined,
    preprocessing: typeof prep === 'object' && prep ? (prep as Record<string, unknown>) : undefined,
    classNames: classNames as string[] | undefined,
    nodeCount: summary.nodes.length,
    opsets: summary.opsets,
    producer: producer || undefined,
  };
}

export interface ProvidedFile {
  name: string;
  size: number;
  /** The first SHARD_TAG_BYTES (64) bytes, when known. */
  head?: Uint8Array;
}

const nameList = (names: string[]) =>
  names.length <= 4 ? names.join(', ') : `${names.slice(0, 2).join(', ')}, …, ${names.at(-1)}`;

/**
 * Checks the shard files at hand against the plan, from their sizes and (when given) first 64
 * bytes; throws ModelFileError on the first problem. Files the model does not use are ignored.
 */
export function checkShardFiles(plan: AimModelPlan, files: readonly ProvidedFile[]): void {
  // A folder pick may report paths (`aim-7b/model.onnx.data_0`): match the last part too.
  const byName = new Map<string, ProvidedFile>();
  for (const f of files) byName.set(f.name.split(/[/\\]/).pop()!, f);
  for (const f of files) byName.set(f.name, f);
  const needed = plan.shards.map((s) => s.name);
  const missing = needed.filter((n) => !byName.has(n));
  if (missing.length) {
    const verb = missing.length === 1 ? 'is' : 'are';
    const count = `${needed.length} data file${needed.length === 1 ? '' : 's'}`;
    const msg = `${nameList(missing)} ${verb} missing: the model needs ${count} (${nameList(needed)}).`;
    throw new ModelFileError(msg);
  }
  const sameExport = 'take the model and its data files from the same export';
  for (const shard of plan.shards) {
    const file = byName.get(shard.name)!;
    const { expectedBytes: expected, requiredBytes: required } = shard;
    const size = `${shard.name} is ${formatCount(file.size)} bytes`;
    if (file.size < (expected ?? required)) {
      const should =
        expected === undefined ? `at least ${formatCount(required)}` : formatCount(expected);
      throw new ModelFileError(`${size} but should be ${should} — the download was cut short.`);
    }
    if (expected !== undefined && file.size !== expected) {
      const why = `${plan.modelFileName} expects ${formatCount(expected)} bytes`;
      throw new ModelFileError(
        `${size}: it belongs to a different export (${why}); ${sameExport}.`,
      );
    }
    if (file.head && plan.exportId) {
      const tag = readShardTag(file.head);
      if (tag !== plan.exportId) {
        const found =
          tag === undefined ? 'it has no AIM export tag' : `its tag names export ${tag}`;
        const why = `${found}, ${plan.modelFileName} is export ${plan.exportId}`;
        throw new ModelFileError(
          `${shard.name} belongs to a different export (${why}); ${sameExport}.`,
        );
      }
    }
  }
}
