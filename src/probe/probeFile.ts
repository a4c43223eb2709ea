/**
 * A probe file: one safetensors file holding the frozen trunk and the probe under ml-aim's
 * keys, so `npm run export` (src/onnx) and Apple's own code load it like a released AIM
 * checkpoint:
 *   preprocessor.*, trunk.*                        the trunk the probe was trained on
 *   head.bn.running_mean, head.bn.running_var      [D]  BatchNorm1d(affine=False) statistics
 *   head.bn.num_batches_tracked                    []   I32 (torch's is int64; load_state_dict
 *                                                       copies it across dtypes)
 *   head.cls_token [1, 1, D], head.k.weight, head.v.weight [D, D]      attentive only
 *   head.linear.weight [C, D], head.linear.bias [C]
 * Metadata: `format` aim-playground-probe-v1; `model_config`, the AimConfig with ml-aim's
 * `probe_layers` (the last L blocks) and `num_classes`, which the exporter reads; `probe`,
 * JSON {kind, layers, causal, top1, trainTop1, recipe}.
 * The linear probe has no ml-aim module: its file has the same head.bn.* and head.linear.*
 * keys and no cls_token/k/v, and `probe.kind` says linear; the ONNX exporter recognises an
 * attentive probe by head.cls_token and exports only that kind with logits.
 */
import { SafetensorsFile, writeSafetensors, type SafetensorsTensor } from '../data/safetensors';
import { validateConfig, type AimConfig } from '../model/config';
import { trunkParamSpecs } from '../model/params';
import { probeParamShapes, type ProbeKind, type ProbeRecipe } from './recipe';

export const PROBE_FORMAT = 'aim-playground-probe-v1';

export interface ProbeFileInfo {
  kind: ProbeKind;
  layers: number;
  causal: boolean;
  top1?: number;
  trainTop1?: number;
  recipe?: ProbeRecipe;
}

export interface ProbeFileContents {
  config: AimConfig;
  info: ProbeFileInfo;
  classes: number;
  /** Trunk and head values by ml-aim key (num_batches_tracked as one float). */
  params: Map<string, Float32Array>;
}

export class ProbeFileError extends Error {
  override readonly name = 'ProbeFileError';
}

const NUM_BATCHES = 'head.bn.num_batches_tracked';

/** The head's tensors of a probe of `kind` and their shapes. */
function headShapes(kind: ProbeKind, dim: number, classes: number): Map<string, number[]> {
  const shapes = probeParamShapes(kind, dim, classes);
  shapes.set('head.bn.running_mean', [dim]);
  shapes.set('head.bn.running_var', [dim]);
  shapes.set(NUM_BATCHES, []);
  return shapes;
}

export function encodeProbeFile(
  config: AimConfig,
  trunk: ReadonlyMap<string, ArrayLike<number>>,
  head: ReadonlyMap<string, Float32Array>,
  info: ProbeFileInfo,
  classNames?: readonly string[],
): Uint8Array {
  const classes = head.get('head.linear.bias')?.length;
  if (!classes) throw new ProbeFileError('probe file: the head has no head.linear.bias');
  if (classNames && classNames.length !== classes)
    throw new ProbeFileError(`probe file: ${classNames.length} class names for ${classes} classes`);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const spec of trunkParamSpecs(config)) {
    const v = trunk.get(spec.name);
    if (!v) throw new ProbeFileError(`probe file: the trunk has no ${spec.name}`);
    tensors.set(spec.name, { dtype: 'F32', shape: spec.shape, data: Float32Array.from(v) });
  }
  for (const [key, shape] of headShapes(info.kind, config.width, classes)) {
    const v = head.get(key);
    if (!v) throw new ProbeFileError(`probe file: the head has no ${key}`);
    tensors.set(
      key,
      key === NUM_BATCHES
        ? { dtype: 'I32', shape, data: Int32Array.from(v) }
        : { dtype: 'F32', shape, data: v },
    );
  }
  return writeSafetensors(tensors, {
    format: PROBE_FORMAT,
    model_config: JSON.stringify({
      ...config,
      probe_layers: info.layers,
      num_classes: classes,
      // The exporter writes them into the model's metadata (aim.class_names).
      ...(classNames ? { class_names: classNames } : {}),
    }),
    probe: JSON.stringify(info),
  });
}

export function decodeProbeFile(bytes: Uint8Array, label = 'probe file'): ProbeFileContents {
  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.parse(bytes, label);
  } catch (error) {
    throw new ProbeFileError(
      `${label} is not a readable safetensors file: ${(error as Error).message}`,
    );
  }
  if (file.metadata.format !== PROBE_FORMAT)
    throw new ProbeFileError(
      `${label} is not a probe written by npm run probe (format "${file.metadata.format ?? 'none'}")`,
    );
  let json: Record<string, unknown>;
  let info: ProbeFileInfo;
  try {
    json = JSON.parse(file.metadata.model_config ?? 'null') as Record<string, unknown>;
    info = JSON.parse(file.metadata.probe ?? 'null') as ProbeFileInfo;
  } catch {
    throw new ProbeFileError(`${label}: its model_config or probe metadata is not valid JSON`);
  }
  const classes = json?.num_classes;
  // The AimConfig is model_config without the keys the exporter reads.
  const config = { ...json } as unknown as AimConfig & Record<string, unknown>;
  delete config.probe_layers;
  delete config.num_classes;
  delete config.class_names;
  const problems = validateConfig(config);
  if (problems.length) throw new ProbeFileError(`${label}: ${problems.join(' ')}`);
  if (!info || (info.kind !== 'attentive' && info.kind !== 'linear'))
    throw new ProbeFileError(`${label}: probe.kind must be attentive or linear`);
  if (!Number.isInteger(classes) || (classes as number) < 1)
    throw new ProbeFileError(`${label}: num_classes must be a positive integer`);
  const params = new Map<string, Float32Array>();
  for (const name of file.names) {
    const entry = file.entry(name);
    params.set(
      name,
      entry.dtype === 'F32' ? file.float32(name) : Float32Array.from(file.integers(name)),
    );
  }
  for (const key of headShapes(info.kind, config.width, classes as number).keys())
    if (!params.has(key)) throw new ProbeFileError(`${label}: ${key} is missing`);
  return { config, info, classes: classes as number, params };
}
