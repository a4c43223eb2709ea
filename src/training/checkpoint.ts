/**
 * Checkpoint files: one safetensors file with the model's parameters under ml-aim's key names
 * (so `torch.load`-free tools and PyTorch read them directly), the AdamW moments under
 * `optimizer.exp_avg.<key>` / `optimizer.exp_avg_sq.<key>`, and the run state — step, RNG
 * state, model and run configuration — in the metadata.
 */
import { SafetensorsFile, writeSafetensors, type SafetensorsTensor } from '../data/safetensors';

export const CHECKPOINT_FORMAT = 'aim-playground-checkpoint-v1';

export interface NamedTensor {
  shape: readonly number[];
  data: Float32Array;
}

export interface CheckpointContents {
  /** Model parameters by ml-aim key. */
  params: ReadonlyMap<string, NamedTensor>;
  /** AdamW first and second moments by parameter key (absent in a weights-only export). */
  optimizer?: {
    expAvg: ReadonlyMap<string, NamedTensor>;
    expAvgSq: ReadonlyMap<string, NamedTensor>;
  };
  /** Optimizer steps taken. */
  step: number;
  /** Rng state after the last step. */
  rngState: number;
  /** JSON-serialisable model config and run settings. */
  modelConfig: unknown;
  runConfig: unknown;
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

const EXP_AVG = 'optimizer.exp_avg.';
const EXP_AVG_SQ = 'optimizer.exp_avg_sq.';

function tensor(t: NamedTensor): SafetensorsTensor {
  return { dtype: 'F32', shape: t.shape, data: t.data };
}

export function encodeCheckpoint(c: CheckpointContents): Uint8Array {
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [key, t] of c.params) tensors.set(key, tensor(t));
  if (c.optimizer) {
    for (const [key, t] of c.optimizer.expAvg) tensors.set(EXP_AVG + key, tensor(t));
    for (const [key, t] of c.optimizer.expAvgSq) tensors.set(EXP_AVG_SQ + key, tensor(t));
  }
  return writeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    step: String(c.step),
    rng_state: String(c.rngState >>> 0),
    model_config: JSON.stringify(c.modelConfig),
    run_config: JSON.stringify(c.runConfig),
  });
}

/** Parses a checkpoint written by encodeCheckpoint; every problem is a CheckpointError saying what is wrong. */
export function decodeCheckpoint(bytes: Uint8Array, label = 'checkpoint'): CheckpointContents {
  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.parse(bytes, label);
  } catch (error) {
    throw new CheckpointError(
      `${label} is not a readable safetensors file: ${(error as Error).message}`,
    );
  }
  const meta = file.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `${label} is not an AIM Playground checkpoint (format "${meta.format ?? 'none'}"); plain ml-aim weights can be loaded as weights only`,
    );
  }
  const parseJson = (field: string) => {
    try {
      return JSON.parse(meta[field] ?? 'null') as unknown;
    } catch {
      throw new CheckpointError(`${label}: metadata field ${field} is not valid JSON`);
    }
  };
  const step = Number(meta.step);
  const rngState = Number(meta.rng_state);
  if (!Number.isInteger(step) || step < 0)
    throw new CheckpointError(`${label}: bad step "${meta.step}"`);
  if (!Number.isInteger(rngState))
    throw new CheckpointError(`${label}: bad rng_state "${meta.rng_state}"`);
  const params = new Map<string, NamedTensor>();
  const expAvg = new Map<string, NamedTensor>();
  const expAvgSq = new Map<string, NamedTensor>();
  for (const name of file.names) {
    const entry = file.entry(name);
    if (entry.dtype !== 'F32')
      throw new CheckpointError(`${label}: ${name} is ${entry.dtype}, expected F32`);
    const t = { shape: entry.shape, data: file.float32(name) };
    if (name.startsWith(EXP_AVG_SQ)) expAvgSq.set(name.slice(EXP_AVG_SQ.length), t);
    else if (name.startsWith(EXP_AVG)) expAvg.set(name.slice(EXP_AVG.length), t);
    else params.set(name, t);
  }
  for (const key of [...expAvg.keys(), ...expAvgSq.keys()]) {
    if (!params.has(key))
      throw new CheckpointError(`${label}: optimizer state for unknown parameter ${key}`);
  }
  const hasOptimizer = expAvg.size > 0 || expAvgSq.size > 0;
  if (hasOptimizer && (expAvg.size !== params.size || expAvgSq.size !== params.size)) {
    throw new CheckpointError(
      `${label}: optimizer state covers ${expAvg.size}/${expAvgSq.size} of ${params.size} parameters`,
    );
  }
  return {
    params,
    optimizer: hasOptimizer ? { expAvg, expAvgSq } : undefined,
    step,
    rngState,
    modelConfig: parseJson('model_config'),
    runConfig: parseJson('run_config'),
  };
}
