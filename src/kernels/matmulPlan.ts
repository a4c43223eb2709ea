/**
 * The choices of a matmul — tile configuration and split-K — as pure functions of a
 * `GpuCapabilities` and the shape, so the step profile can make them as on an H100
 * (src/gpu/adapterProfiles.ts) and the model can size the split-K scratch without a device.
 * Imports only types: allocation.ts (which must not import the GPU runtime) uses it.
 *
 * Split-K (src/kernels/matmulSplitK.ts) is for products whose output tiles would not fill
 * the GPU — the weight gradients dW = dYᵀ·X, whose output is small (a weight's size) and
 * whose K is every token of the batch (B·T = 16384 for aim-tiny at batch 256: 3 to 64 output
 * tiles against an H100's 132 SMs).
 */
import type { GpuCapabilities } from '../gpu/capabilities';
import type { MatmulShape } from '../reference/matmul';

/**
 * Tile configurations of matmul.wgsl (PER_THREAD and TILE_K are specialised; 16×16
 * invocations per workgroup in both). 'large': 128×128 outputs a workgroup, 8×8 an invocation
 * — the register-blocked GPU configuration. 'small': 64×64, 4×4 — four times as many
 * workgroups for products too small to fill a GPU with 128×128 tiles, and the configuration
 * CPU adapters (SwiftShader) run fastest: 64 accumulators per invocation spill there.
 */
export const MATMUL_TILES = {
  large: { tile: 128, specialize: { PER_THREAD: 8, TILE_K: 8 } },
  small: { tile: 64, specialize: { PER_THREAD: 4, TILE_K: 16 } },
} as const;

export type MatmulTile = keyof typeof MATMUL_TILES;

/**
 * Shared-memory stages of matmul_tile.wgsl: 2 = double-buffered (the next K-tile is stored
 * into the other stage while this one is read: one barrier per K-tile instead of two).
 */
export type MatmulStages = 1 | 2;

/** Workgroup memory of one stage of `tile`: the k-major A and B tiles, rows padded by 4 words. */
export function matmulStageBytes(tile: MatmulTile): number {
  const { tile: size, specialize } = MATMUL_TILES[tile];
  return 2 * specialize.TILE_K * (size + 4) * 4;
}

/**
 * Two stages on GPUs whose workgroup memory holds them (16.9 KiB for the large tile, 17.0 KiB
 * for the small: above WebGPU's guaranteed 16 KiB, within the 32–48 KiB discrete and
 * integrated GPUs offer), else one. CPU adapters take one: Chromium's SwiftShader never
 * finished the second engine's batch-2 run on two stages (e2e/secondEngine.spec.ts; Dawn for
 * Node's SwiftShader runs them, and test/matmul.test.ts holds both to the same bits).
 */
export function chooseMatmulStages(caps: GpuCapabilities, tile: MatmulTile): MatmulStages {
  if (caps.adapter.isFallbackAdapter) return 1;
  return 2 * matmulStageBytes(tile) <= caps.limits.maxComputeWorkgroupStorageSize ? 2 : 1;
}

/** The specialised constants of matmul_tile.wgsl for `tile` with `stages`. */
export function matmulTileConstants(
  tile: MatmulTile,
  stages: MatmulStages,
): { PER_THREAD: number; TILE_K: number; STAGES: number } {
  return { ...MATMUL_TILES[tile].specialize, STAGES: stages };
}

/** Below this many 128×128 workgroups a product uses 64×64 tiles (more workgroups in flight). */
const LARGE_TILE_MIN_WORKGROUPS = 128;

/**
 * Vendors whose GPUs have too few registers per invocation for the large tile's 64
 * accumulators (Apple's and Intel's integrated GPUs): they would spill, as CPU adapters do.
 */
const REGISTER_SCARCE_VENDORS = ['apple', 'intel'];

/**
 * 128×128 tiles (8×8 an invocation) when they alone fill a GPU; else, and always on CPU
 * adapters and register-scarce GPUs, 64×64 (4×4).
 */
export function chooseMatmulTile(caps: GpuCapabilities, s: MatmulShape): MatmulTile {
  if (caps.adapter.isFallbackAdapter) return 'small';
  if (REGISTER_SCARCE_VENDORS.includes(caps.adapter.vendor)) return 'small';
  const large = Math.ceil(s.m / 128) * Math.ceil(s.n / 128) * s.batch;
  return large >= LARGE_TILE_MIN_WORKGROUPS ? 'large' : 'small';
}

/**
 * Products with fewer output tiles than this are split: the streaming multiprocessors of the
 * largest GPU we profile (H100: 132). WebGPU does not report a core count, so one figure
 * serves every non-fallback adapter; smaller GPUs are filled by it as well.
 */
export const SPLIT_K_MIN_WORKGROUPS = 132;
/** A split product aims at two workgroups per H100 SM, so one wave hides another's latency. */
export const SPLIT_K_TARGET_WORKGROUPS = 2 * SPLIT_K_MIN_WORKGROUPS;
/**
 * The shortest K-range worth a workgroup: below it, writing and re-reading the partial tile
 * costs more than the multiply-adds it spreads out.
 */
export const SPLIT_K_MIN_CHUNK = 256;

/** How K is split: `splits` K-ranges of `kChunk` (the last one shorter when K is not a multiple). */
export interface SplitK {
  splits: number;
  kChunk: number;
}

/** K cut into at most `requested` ranges whose length is a multiple of `tileK`. */
export function splitKFor(k: number, requested: number, tileK: number): SplitK {
  if (!Number.isInteger(requested) || requested < 1)
    throw new RangeError(`matmul: split count ${requested} must be a positive integer`);
  const kChunk = Math.ceil(Math.ceil(k / requested) / tileK) * tileK;
  return { splits: Math.ceil(k / kChunk), kChunk };
}

/**
 * The split for a product with `tile`×`tile` output tiles walked `tileK` at a time: none on a
 * fallback (CPU) adapter, whose few threads the output tiles already occupy, nor when the tiles
 * fill SPLIT_K_MIN_WORKGROUPS; else enough ranges for SPLIT_K_TARGET_WORKGROUPS workgroups,
 * none shorter than SPLIT_K_MIN_CHUNK.
 */
export function chooseSplitK(
  caps: GpuCapabilities,
  s: MatmulShape,
  tile: { tile: number; tileK: number },
): SplitK {
  if (caps.adapter.isFallbackAdapter) return { splits: 1, kChunk: s.k };
  return gpuSplitK(s, tile);
}

/** chooseSplitK on any non-fallback adapter (the one way the capabilities enter the choice). */
export function gpuSplitK(s: MatmulShape, tile: { tile: number; tileK: number }): SplitK {
  const requested = gpuSplitKRanges(s, tile.tile);
  return requested > 1 ? splitKFor(s.k, requested, tile.tileK) : { splits: 1, kChunk: s.k };
}

/**
 * How many K-ranges gpuSplitK asks splitKFor for (1: no split). It never decreases as K
 * grows, and splitKFor yields at most this many, so the figure for the longest K bounds the
 * partials of every shorter one (the head's row buckets).
 */
function gpuSplitKRanges(s: MatmulShape, tile: number): number {
  const tiles = Math.ceil(s.m / tile) * Math.ceil(s.n / tile) * s.batch;
  if (tiles >= SPLIT_K_MIN_WORKGROUPS) return 1;
  const ranges = Math.ceil(SPLIT_K_TARGET_WORKGROUPS / tiles);
  return Math.max(1, Math.min(ranges, Math.floor(s.k / SPLIT_K_MIN_CHUNK)));
}

/**
 * The K-range counts gpuSplitK may ask for on the tiles prepareMatmul can choose for `s` on a
 * non-fallback adapter: the small tile (always possible: register-scarce vendors), and the
 * large one where chooseMatmulTile would pick it (LARGE_TILE_MIN_WORKGROUPS large tiles).
 */
export function splitKRangesOnAnyGpu(s: MatmulShape): number[] {
  const large = Math.ceil(s.m / 128) * Math.ceil(s.n / 128) * s.batch;
  const tiles: MatmulTile[] = large >= LARGE_TILE_MIN_WORKGROUPS ? ['small', 'large'] : ['small'];
  return tiles.map((t) => gpuSplitKRanges(s, MATMUL_TILES[t].tile));
}

/** The partials scratch of a split product: [batch · splits, M, N]. */
export function splitKPartialsShape(s: MatmulShape, split: SplitK): [number, number, number] {
  return [s.batch * split.splits, s.m, s.n];
}

/** What the plan reads of MatmulOptions (matmul.ts). */
export interface MatmulPlanOptions {
  /** Tile configuration; chosen from the adapter and the shape when absent. */
  tile?: MatmulTile;
  /** Shared-memory stages; chosen from the adapter's workgroup memory when absent. */
  stages?: MatmulStages;
  /** See MatmulOptions.splitK. */
  splitK?: boolean | number;
}

/** The tile and split prepareMatmul uses for shape `s` on an adapter with `caps`. */
export function matmulPlan(
  caps: GpuCapabilities,
  s: MatmulShape,
  opts: MatmulPlanOptions = {},
): { tile: MatmulTile; stages: MatmulStages; split: SplitK } {
  const tile = opts.tile ?? chooseMatmulTile(caps, s);
  const stages = opts.stages ?? chooseMatmulStages(caps, tile);
  const { tile: size, specialize } = MATMUL_TILES[tile];
  const tileK = specialize.TILE_K;
  let split: SplitK = { splits: 1, kChunk: s.k };
  if (typeof opts.splitK === 'number') split = splitKFor(s.k, opts.splitK, tileK);
  else if (opts.splitK) split = chooseSplitK(caps, s, { tile: size, tileK });
  return { tile, stages, split };
}

/**
 * The partials a matmul with these options needs ([batch · splits, M, N]), or undefined when
 * it is not split.
 */
export function matmulScratchShape(
  caps: GpuCapabilities,
  s: MatmulShape,
  opts: MatmulPlanOptions = {},
): number[] | undefined {
  const { split } = matmulPlan(caps, s, opts);
  return split.splits > 1 ? splitKPartialsShape(s, split) : undefined;
}

/**
 * Values of a split-K partials buffer that any of `shapes`, or the same products over a
 * shorter K, needs when split with `splitK: true` on any adapter and either tile — what a
 * model allocates once for its weight gradients (0: none of them is ever split).
 */
export function matmulSplitKCapacity(shapes: readonly MatmulShape[]): number {
  let values = 0;
  for (const s of shapes) {
    for (const { tile } of Object.values(MATMUL_TILES)) {
      const ranges = gpuSplitKRanges(s, tile);
      if (ranges > 1) values = Math.max(values, s.batch * ranges * s.m * s.n);
    }
  }
  return values;
}

/** The product dW = dYᵀ·X of a weight [out, ...in] over `rows` rows (the weight gradients). */
export function weightGradientShape(weight: readonly number[], rows: number): MatmulShape {
  const [out, ...rest] = weight;
  const inputs = rest.reduce((x, y) => x * y, 1);
  return { batch: 1, m: out, n: inputs, k: rows, transA: true, transB: false, broadcastB: true };
}
