/**
 * Whether our WGSL engine can hold a model on an adapter, decided before anything is
 * allocated: a pure function of the model's shape and the adapter's limits, so the paper's
 * 600M–7B shapes are planned against any adapter profile (src/gpu/adapterProfiles.ts).
 *
 * The buffers are the ones the engine allocates: the trunk through allocation.ts's walk (the
 * same walk `AimGpuModel.create` runs, trunk-only, as src/model/memory.ts counts it), the
 * probe features' chunk and bank (src/probe/features.ts) and the classifying ProbeModel's
 * tensors (src/probe/probeModel.ts: parameters with their — unused — gradients and AdamW
 * moments, the eval path's activations). Parameters live in arenas of at most 64 MiB
 * (allocation.ts), so many small tensors are split across bindings; one tensor is bound whole
 * by our matmul, so a weight larger than maxStorageBufferBindingSize (or maxBufferSize) is
 * refused, naming it. Weights are f32 on our engine in every format (wgslEngineWeights.ts).
 * WebGPU does not tell a page how much memory the GPU has: the total is reported, and
 * checked only against a memory size the caller knows (an adapter profile's card).
 */
import { numPatches, type AimConfig } from '../model/config';
import { trainingBuffers } from '../model/memory';
import { trunkParamSpecs } from '../model/params';
import { PROBE_TRUNK_BATCH } from '../probe/features';
import { formatBytes } from '../util/format';

export interface WgslEngineShape {
  config: AimConfig;
  mode: 'probe-layers' | 'post-trunk-norm';
  /** Attentive-probe classes, when the model has a probe. */
  classes?: number;
}

export interface WgslLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface WgslPlannedBuffer {
  label: string;
  bytes: number;
}

export interface WgslEnginePlan {
  ok: boolean;
  /** Why not, naming the tensor and the limit (when !ok). */
  reason?: string;
  /** Every buffer the engine allocates for `images` at once. */
  buffers: WgslPlannedBuffer[];
  totalBytes: number;
  largest: WgslPlannedBuffer;
  /** The largest single parameter tensor (bound whole by the matmul). */
  largestTensor: WgslPlannedBuffer;
}

const F32 = 4;

/** Every buffer the engine allocates for a model of `shape` classifying `images` at once. */
export function wgslEngineBuffers(shape: WgslEngineShape, images = 1): WgslPlannedBuffer[] {
  const c = shape.config;
  const K = numPatches(c);
  const D = c.width;
  const trunkBatch = Math.min(PROBE_TRUNK_BATCH, images);
  const buffers: WgslPlannedBuffer[] = trainingBuffers(c, trunkBatch, { trunkOnly: true }).map(
    ({ label, bytes }) => ({ label, bytes }),
  );
  const add = (label: string, ...dims: number[]) =>
    buffers.push({ label, bytes: dims.reduce((a, b) => a * b, F32) });
  add('probe chunk features', trunkBatch, K, D);
  add('probe feature bank', images, K, D);
  if (shape.mode === 'post-trunk-norm') {
    add('post-trunk norm output', images, K, D);
    add('post-trunk norm mean', images * K);
    add('post-trunk norm rstd', images * K);
  }
  const C = shape.classes;
  if (C !== undefined) {
    const params: [string, number[]][] = [
      ['head.cls_token', [D]],
      ['head.k.weight', [D, D]],
      ['head.v.weight', [D, D]],
      ['head.linear.weight', [C, D]],
      ['head.linear.bias', [C]],
    ];
    // ProbeModel keeps a gradient and AdamW's two moments beside each parameter.
    for (const [key, dims] of params)
      for (const what of ['', ' grad', ' exp_avg', ' exp_avg_sq']) add(`${key}${what}`, ...dims);
    add('probe bn running', 2, D);
    add('probe loss', 2);
    add('probe eval index', images);
    add('probe eval logits', images, C);
    add('probe eval xhat', images * K, D);
    add('probe k', images * K, D);
    add('probe v', images * K, D);
    add('probe probs', images, c.heads, K);
    add('probe pooled', images, D);
  }
  return buffers;
}

/**
 * Plans our engine for `shape` on an adapter with `limits` (and, when known, `memoryBytes`
 * of GPU memory): ok, or the reason it cannot be held.
 */
export function planWgslEngine(
  shape: WgslEngineShape,
  limits: WgslLimits,
  opts: { images?: number; memoryBytes?: number } = {},
): WgslEnginePlan {
  const buffers = wgslEngineBuffers(shape, opts.images ?? 1);
  const totalBytes = buffers.reduce((n, b) => n + b.bytes, 0);
  const largest = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const tensors = trunkParamSpecs(shape.config).map((s) => ({
    label: s.name,
    bytes: s.shape.reduce((a, b) => a * b, F32),
  }));
  if (shape.classes !== undefined)
    tensors.push({ label: 'head.linear.weight', bytes: F32 * shape.classes * shape.config.width });
  const largestTensor = tensors.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const base = { buffers, totalBytes, largest, largestTensor };
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const limitName =
    limits.maxStorageBufferBindingSize <= limits.maxBufferSize
      ? 'maxStorageBufferBindingSize'
      : 'maxBufferSize';
  if (largestTensor.bytes > binding)
    return {
      ...base,
      ok: false,
      reason:
        `${largestTensor.label} is ${formatBytes(largestTensor.bytes)} as f32, above this ` +
        `adapter's ${limitName} of ${formatBytes(binding)}: our matmul binds a weight whole ` +
        '(smaller tensors share 64 MiB arenas), so this model runs on onnxruntime only here',
    };
  if (largest.bytes > binding)
    return {
      ...base,
      ok: false,
      reason:
        `our engine's buffer "${largest.label}" needs ${formatBytes(largest.bytes)}, above ` +
        `this adapter's ${limitName} of ${formatBytes(binding)}`,
    };
  if (opts.memoryBytes !== undefined && totalBytes > opts.memoryBytes)
    return {
      ...base,
      ok: false,
      reason:
        `our engine needs ${formatBytes(totalBytes)} of GPU memory (weights as f32), more than ` +
        `the ${formatBytes(opts.memoryBytes)} this GPU has`,
    };
  return { ...base, ok: true };
}
