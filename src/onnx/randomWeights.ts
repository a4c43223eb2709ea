/**
 * Random-weight AIM v1 checkpoints with the paper's exact shapes, generated instead of read:
 * what lets a benchmark export, load and time a 7B model without downloading 26 GB.
 *
 * The WeightSource holds every tensor an ml-aim checkpoint with an attentive probe holds
 * (all trunk blocks, post_trunk_norm, the probe with its BatchNorm statistics and its
 * linear bias), under ml-aim's key names and shapes, and computes a tensor only when it is
 * read — the exporter reads one at a time and never the blocks past the deepest probe layer,
 * so the 7B costs at most one 16384×4096 f32 tensor (256 MiB) at once.
 *
 * Value i of tensor `name` is a function of (seed, name, i) alone: a keyed counter-based
 * generator (two rounds of a 32-bit integer mixer over the index), not a stream, so reading
 * order, skipped tensors and which process reads what do not matter, and no two tensors
 * share a stream the way offset seeds of one sequential generator can overlap.
 *
 * Values (ViT practice):
 *   Linear / Conv weights, cls_token     normal with σ 0.02 cut at ±2σ (std 0.0176 after the
 *                                        cut, as torch's trunc_normal_(std=.02, a=−2σ, b=2σ))
 *   LayerNorm weights                    1 + 0.02·z
 *   biases, BatchNorm running_mean       0.02·z (small, not exactly 0, so a dropped bias shows)
 *   BatchNorm running_var                1 + 0.1·z ∈ [0.8, 1.2] (positive: the probe takes its √)
 * with z the standard normal truncated to [−2, 2].
 */
import { PRESETS } from '../model/config';
import { aimTensorTable, paramSize, type TensorKind, type TensorSpec } from '../model/params';
import {
  parseAimConfig,
  shapeFromMlAimConfig,
  type AimOnnxConfig,
  type WeightInfo,
  type WeightSource,
} from './checkpoint';

/** The paper's four models (src/model/config.ts) with the released "best" probe layers. */
export const PAPER_PRESETS = ['aim-600M', 'aim-1B', 'aim-3B', 'aim-7B'] as const;
export type PaperPreset = (typeof PAPER_PRESETS)[number];

/** apple/ml-aim's `*_head_best_layers` probes: the block outputs averaged into the features. */
const BEST_PROBE_LAYERS: Record<PaperPreset, [number, number]> = {
  'aim-600M': [14, 19],
  'aim-1B': [12, 17],
  'aim-3B': [12, 17],
  'aim-7B': [14, 19],
};

export function isPaperPreset(name: string): name is PaperPreset {
  return (PAPER_PRESETS as readonly string[]).includes(name);
}

/** A paper preset as ml-aim's config.json would describe it (ImageNet-1k probe). */
export function paperPresetConfig(preset: PaperPreset): AimOnnxConfig {
  const p = PRESETS[preset];
  const [first, last] = BEST_PROBE_LAYERS[preset];
  return parseAimConfig({
    img_size: p.imageSize,
    patch_size: p.patchSize,
    embed_dim: p.width,
    num_blocks: p.depth,
    num_heads: p.heads,
    mlp_ratio: p.mlpRatio,
    probe_layers: Array.from({ length: last - first + 1 }, (_, i) => first + i),
    num_classes: 1000,
  });
}

/** Every tensor of an ml-aim AIM v1 state dict with an attentive probe, in its order. */
export function aimCheckpointTensors(c: AimOnnxConfig): Map<string, TensorSpec> {
  const probe = { classes: c.numClasses, queries: 1, batchNorm: true, kvBias: false };
  const shape = shapeFromMlAimConfig(c, { head: { kind: 'probe', ...probe, linearBias: true } });
  return new Map(aimTensorTable(shape).map((t) => [t.name, t]));
}

/** murmur3's 32-bit finaliser: a bijection whose output bits each depend on every input bit. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Two independent 32-bit words from (seed, name): FNV-1a over the UTF-16 units, then mixed. */
function tensorKey(seed: number, name: string): [number, number] {
  let a = 0x811c9dc5 ^ mix32(seed >>> 0);
  let b = 0x01000193 ^ mix32((seed >>> 0) ^ 0x9e3779b9);
  for (let i = 0; i < name.length; i++) {
    const u = name.charCodeAt(i);
    a = Math.imul(a ^ u, 0x01000193);
    b = Math.imul(b ^ u, 0x0100019d);
  }
  return [mix32(a), mix32(b ^ 0x5bd1e995)];
}

const TRUNCATE = 2;
const TABLE_BITS = 12;
const FRACTION_BITS = 32 - TABLE_BITS;
let quantiles: Float64Array | undefined;

/**
 * The inverse CDF of the standard normal truncated to [−2, 2] at 2^12 + 1 evenly spaced
 * probabilities. A sample is one 32-bit draw: its top 12 bits pick an interval, the other 20
 * interpolate inside it. The inverse CDF's slope is at most 1/φ(2) ≈ 18.5 times the
 * distribution's mass, so linear interpolation over 4096 intervals is off by < 1e-6 — far
 * cheaper than Box–Muller (log, sqrt, cos a value) and with no rejection loop.
 */
function truncatedNormalQuantiles(): Float64Array {
  if (quantiles) return quantiles;
  // Φ on a fine grid by the trapezoid rule (error ~ h²/12·max|φ''| ≈ 5e-12), then inverted.
  const steps = 1 << 18;
  const h = (2 * TRUNCATE) / steps;
  const density = (z: number) => Math.exp(-0.5 * z * z);
  const cdf = new Float64Array(steps + 1);
  for (let i = 1; i <= steps; i++) {
    const z = -TRUNCATE + i * h;
    cdf[i] = cdf[i - 1] + 0.5 * h * (density(z - h) + density(z));
  }
  const total = cdf[steps];
  const n = 1 << TABLE_BITS;
  const table = new Float64Array(n + 1);
  let j = 0;
  for (let q = 0; q <= n; q++) {
    const target = (q / n) * total;
    while (j < steps - 1 && cdf[j + 1] < target) j++;
    const span = cdf[j + 1] - cdf[j];
    const t = span > 0 ? Math.min(1, Math.max(0, (target - cdf[j]) / span)) : 0;
    table[q] = -TRUNCATE + (j + t) * h;
  }
  table[0] = -TRUNCATE;
  table[n] = TRUNCATE;
  quantiles = table;
  return table;
}

/** `out[i] = offset + scale·z_i`, z_i truncated-normal from (key, i). */
function fillTruncatedNormal(
  out: Float32Array,
  key: [number, number],
  offset: number,
  scale: number,
): void {
  const table = truncatedNormalQuantiles();
  const [k0, k1] = key;
  const fractionScale = 1 / 2 ** FRACTION_BITS;
  const mask = 2 ** FRACTION_BITS - 1;
  for (let i = 0; i < out.length; i++) {
    // Two keyed rounds of the mixer over the counter: a 32-bit keyed permutation of i.
    const r = mix32(mix32((i ^ k0) >>> 0) ^ k1);
    const q = r >>> FRACTION_BITS;
    const lo = table[q];
    out[i] = offset + scale * (lo + (table[q + 1] - lo) * (r & mask) * fractionScale);
  }
}

/** offset + scale·z for each kind of tensor (the table in the header). */
const SMALL = { offset: 0, scale: 0.02 };
const VALUES: Record<TensorKind, { offset: number; scale: number }> = {
  linear: SMALL,
  conv: SMALL,
  query: SMALL,
  bias: SMALL,
  'norm-bias': SMALL,
  'running-mean': SMALL,
  'norm-weight': { offset: 1, scale: 0.02 },
  'running-var': { offset: 1, scale: 0.1 },
};

/** Every tensor of an AIM v1 checkpoint with a probe for `config`, generated when read. */
export function randomAimWeights(config: AimOnnxConfig, seed = 0): WeightSource {
  const specs = aimCheckpointTensors(config);
  const file = `random(seed=${seed})`;
  const spec = (name: string) => {
    const s = specs.get(name);
    if (!s) throw new RangeError(`random checkpoint has no tensor "${name}"`);
    return s;
  };
  return {
    names: [...specs.keys()],
    has: (name) => specs.has(name),
    info: (name): WeightInfo => ({ name, dtype: 'F32', shape: spec(name).shape, file }),
    readFloat32(name) {
      const s = spec(name);
      const size = paramSize(s);
      // The counter is 32 bits: a larger tensor would repeat itself (the 7B's largest is 2^26).
      if (size > 2 ** 32) throw new RangeError(`${name}: ${size} values exceed 2^32`);
      const out = new Float32Array(size);
      const { offset, scale } = VALUES[s.kind];
      fillTruncatedNormal(out, tensorKey(seed, name), offset, scale);
      return Promise.resolve(out);
    },
  };
}

/** A random-weight checkpoint of a paper preset (with its best probe layers) or of any config. */
export function randomAimCheckpoint(
  spec: PaperPreset | AimOnnxConfig,
  seed = 0,
): { config: AimOnnxConfig; weights: WeightSource } {
  const config = typeof spec === 'string' ? paperPresetConfig(spec) : spec;
  return { config, weights: randomAimWeights(config, seed) };
}
