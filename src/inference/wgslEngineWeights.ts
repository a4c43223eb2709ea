/**
 * Our own engine's weights come from the very files onnxruntime runs: the loaded ONNX model's
 * initializers (its external-data shards — OPFS Files for a cached model, the user's Files,
 * or the Blobs a run exported in the tab wrote), read back one tensor at a time through
 * `Blob.slice` and turned into ml-aim's state-dict tensors. So both engines compute with the
 * same numbers, whichever source the model came from, and nothing else has to be kept.
 *
 * The exporter (src/onnx/export.ts, weightEmitter.ts, aimHeads.ts) names what it writes; this
 * undoes each of its transformations:
 *   Linear `X.weight` [out, in]  ← `X.weight_t` [in, out] (fp32), `X.weight_t_fp16` (fp16),
 *                                  or `X.weight_q4` + `_scales` + `_zero_points` (int4:
 *                                  dequantized exactly as MatMulNBits computes, (q − z)·s)
 *   any other tensor `T`         ← `T` (fp32) or `T_fp16` (fp16, widened exactly)
 *   head.cls_token               ← head.cls_token_scaled · √head_dim (the graph's pre-scaled query)
 *   head.bn.running_var          ← 1 / inv_std² − 1e-6 (the graph folds var + ε into inv_std)
 * fp16 and int4 weights are widened to f32 here: our engine stores and computes f32 on every
 * adapter (no fp16 storage path yet), so an fp16 or int4 model costs f32 GPU memory on it.
 */
import onnxProto from 'onnx-proto';
import { halfToFloat } from '../data/safetensors';
import { PRESETS, type AimConfig } from '../model/config';
import { dequantizeInt4, INT4_BLOCK } from '../onnx/int4';
import { DataType } from '../onnx/graph';
import type { AimModelPlan } from './modelPlan';

/** The probe BatchNorm's ε, folded into `head.bn.inv_std` by the exporter (aimHeads.ts). */
const PROBE_BN_EPS = 1e-6;

export class WgslEngineError extends Error {
  override readonly name = 'WgslEngineError';
}

/** What our engine runs for a model, derived from its plan (aim.* metadata). */
export interface WgslModelSpec {
  /** The trunk as this project's AimConfig, `depth` = the blocks the graph has. */
  config: AimConfig;
  mode: 'probe-layers' | 'post-trunk-norm';
  /** Probe layers: the last `layers` blocks of `config.depth` are averaged. */
  layers: number;
  /** Classes of the attentive probe; absent without one. */
  classes?: number;
}

/**
 * The engine's view of a planned model, or why it cannot run it (the user reads the reason
 * beside onnxruntime's result, which is unaffected).
 */
export function wgslModelSpec(plan: AimModelPlan): WgslModelSpec {
  const c = plan.config;
  const refuse = (why: string): never => {
    throw new WgslEngineError(`our WGSL engine cannot run this model: ${why}`);
  };
  if (!c || !plan.featureMode || !plan.blocks)
    return refuse('it lacks the aim.config / aim.features / aim.blocks metadata of our exporter');
  if (c.imageHeight !== c.imageWidth || c.patchHeight !== c.patchWidth)
    return refuse(
      `its ${c.imageHeight}×${c.imageWidth} images or ${c.patchHeight}×${c.patchWidth} patches are not square`,
    );
  if (c.channels !== 3) return refuse(`it takes ${c.channels} channels, not 3`);
  if (c.mlpHidden % c.embedDim)
    return refuse(`its MLP width ${c.mlpHidden} is not a multiple of ${c.embedDim}`);
  const blocks = plan.blocks;
  let layers = 1;
  if (plan.featureMode === 'probe-layers') {
    const want = c.probeLayers;
    layers = want.length;
    // ProbeFeatures averages the last L blocks of its trunk; the graph stops at max(layers).
    const contiguous = want.every((l, i) => l === blocks - layers + i);
    if (!contiguous)
      return refuse(
        `its probe layers [${want.join(', ')}] are not the last ${layers} of its ${blocks} blocks`,
      );
  } else if (blocks !== c.numBlocks) {
    return refuse(`its graph has ${blocks} of ${c.numBlocks} blocks before post_trunk_norm`);
  }
  const config: AimConfig = {
    ...PRESETS['aim-micro'],
    name: plan.modelFileName,
    imageSize: c.imageHeight,
    patchSize: c.patchHeight,
    channels: 3,
    width: c.embedDim,
    depth: blocks,
    heads: c.numHeads,
    mlpRatio: c.mlpHidden / c.embedDim,
    trunkNormEps: c.normEps,
    headNormEps: c.headNormEps,
    inferenceOnly: true,
  };
  return {
    config,
    mode: plan.featureMode,
    layers,
    classes: plan.logits?.classes,
  };
}

interface Initializer {
  dataType: number;
  dims: number[];
  external?: { location: string; offset: number; length: number };
  raw?: Uint8Array;
}

/** Reads ml-aim tensors out of an exported model's initializers (see the header). */
export class OnnxWeightReader {
  private readonly inits = new Map<string, Initializer>();

  constructor(
    modelBytes: Uint8Array,
    private readonly shards: ReadonlyMap<string, Blob>,
  ) {
    const graph = onnxProto.onnx.ModelProto.decode(modelBytes).graph;
    for (const t of graph?.initializer ?? []) {
      const ext = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      this.inits.set(t.name ?? '', {
        dataType: t.dataType ?? 0,
        dims: (t.dims ?? []).map(Number),
        external:
          typeof ext.location === 'string'
            ? {
                location: ext.location,
                offset: Number(ext.offset ?? 0),
                length: Number(ext.length),
              }
            : undefined,
        raw: t.rawData && t.rawData.length ? t.rawData : undefined,
      });
    }
  }

  /** Whether the model carries ml-aim tensor `key` in any of the exporter's forms. */
  has(key: string): boolean {
    if (key === 'head.cls_token') return this.inits.has('head.cls_token_scaled');
    if (key === 'head.bn.running_var') return this.inits.has('head.bn.inv_std');
    return [key, `${key}_fp16`, `${key}_t`, `${key}_t_fp16`, `${key}_q4`].some((n) =>
      this.inits.has(n),
    );
  }

  private async bytes(name: string): Promise<{ init: Initializer; bytes: Uint8Array }> {
    const init = this.inits.get(name);
    if (!init) throw new WgslEngineError(`the model has no initializer ${name}`);
    if (init.raw) return { init, bytes: init.raw };
    const ext = init.external;
    if (!ext) throw new WgslEngineError(`initializer ${name} holds no data`);
    const shard = this.shards.get(ext.location);
    if (!shard) throw new WgslEngineError(`initializer ${name} is in ${ext.location}, not loaded`);
    const end = ext.offset + ext.length;
    if (end > shard.size)
      throw new WgslEngineError(`${ext.location} ends before ${name} (byte ${end})`);
    const buffer = await shard.slice(ext.offset, end).arrayBuffer();
    return { init, bytes: new Uint8Array(buffer) };
  }

  /** An initializer as f32 values (FLOAT copied, FLOAT16 widened exactly). */
  private async floats(name: string): Promise<{ dims: number[]; values: Float32Array }> {
    const { init, bytes } = await this.bytes(name);
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    if (init.dataType === DataType.FLOAT)
      return {
        dims: init.dims,
        values: new Float32Array(
          aligned.buffer,
          aligned.byteOffset,
          aligned.byteLength / 4,
        ).slice(),
      };
    if (init.dataType === DataType.FLOAT16) {
      const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
      return { dims: init.dims, values: Float32Array.from(halves, halfToFloat) };
    }
    throw new WgslEngineError(`initializer ${name} has data type ${init.dataType}, not a float`);
  }

  /** ml-aim tensor `key` [shape] as f32, in ml-aim's layout (its size checked). */
  async read(key: string, shape: readonly number[]): Promise<Float32Array> {
    const values = await this.readAny(key, shape);
    const want = shape.reduce((a, b) => a * b, 1);
    if (values.length !== want)
      throw new WgslEngineError(
        `${key} holds ${values.length} values in the model, expected [${shape.join(', ')}]`,
      );
    return values;
  }

  private async readAny(key: string, shape: readonly number[]): Promise<Float32Array> {
    if (key === 'head.cls_token') {
      const { dims, values } = await this.floats('head.cls_token_scaled'); // [1, Q, H, dh]
      const scale = Math.sqrt(dims[dims.length - 1]);
      return Float32Array.from(values, (v) => v * scale);
    }
    if (key === 'head.bn.running_var') {
      const { values } = await this.floats('head.bn.inv_std');
      return Float32Array.from(values, (s) => 1 / (s * s) - PROBE_BN_EPS);
    }
    for (const name of [key, `${key}_fp16`])
      if (this.inits.has(name)) return (await this.floats(name)).values;
    for (const name of [`${key}_t`, `${key}_t_fp16`]) {
      if (!this.inits.has(name)) continue;
      const { dims, values } = await this.floats(name);
      return transpose(values, dims[0], dims[1]);
    }
    if (this.inits.has(`${key}_q4`)) return this.dequantize(key, shape);
    throw new WgslEngineError(`the model has no tensor for ${key}`);
  }

  private async dequantize(key: string, shape: readonly number[]): Promise<Float32Array> {
    const packed = await this.bytes(`${key}_q4`); // [N, blocks, 16]
    const [n, blocks] = packed.init.dims;
    const k = shape[1];
    if (n !== shape[0] || blocks !== Math.ceil(k / INT4_BLOCK))
      throw new WgslEngineError(
        `${key}: int4 blocks [${n}, ${blocks}] do not fit [${shape.join(', ')}]`,
      );
    const scales = await this.floats(`${key}_scales`);
    const zeroPoints = await this.bytes(`${key}_zero_points`);
    return Float32Array.from(
      dequantizeInt4({
        n,
        k,
        blocks,
        packed: packed.bytes,
        scales: scales.values,
        zeroPoints: zeroPoints.bytes,
      }),
    );
  }
}

/** [rows, cols] → [cols, rows]. */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}
