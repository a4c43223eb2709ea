/**
 * Which attention backward a shape gets, as a pure function of a `GpuCapabilities` and the
 * shape (so the step profile chooses as on an H100, src/gpu/adapterProfiles.ts):
 *   - 'short': `shaders/attention_backward_short.wgsl`, one dispatch, one workgroup per
 *     (sample, head) — for T ≤ 64 (AIM's 8×8 patch grids) and head dims ≤ 64;
 *   - 'flash': the three flash-attention dispatches (Δ, dK/dV, dQ), any shape.
 * Imports only types.
 */
import type { GpuCapabilities } from '../gpu/capabilities';
import type { AttentionShape } from '../reference/attention';

export type AttentionBackwardKernel = 'short' | 'flash';

export type AttentionBackwardPlan =
  { kernel: 'short'; keyBlock: number; workgroupBytes: number } | { kernel: 'flash' };

/** Longest sequence the short kernel takes (its Δ and L rows live in shared memory). */
export const SHORT_ATTENTION_MAX_SEQ = 64;
/** Largest head dim it takes (padded to 8: 8 dQ dims an invocation). */
export const SHORT_ATTENTION_MAX_HEAD_DIM = 64;
/** Key blocks it may use: multiples of its 8-row query blocks, ≤ 8 keys an invocation. */
const SHORT_KEY_BLOCKS = [64, 32, 16, 8];
/** Its dK and dV register micro-tiles: keys × dims per invocation. */
const SHORT_REGISTER_TILE = 32;

/** Bytes of workgroup memory the short kernel declares for a key block (mirrors the WGSL). */
export function shortAttentionWorkgroupBytes(headDim: number, keyBlock: number): number {
  const d = Math.ceil(headDim / 8) * 8;
  const rows = 8;
  // K (rows padded), V, Q and dO (padded), P and dS, L and Δ of every row.
  const floats =
    d * (keyBlock + 1) + d * keyBlock + 2 * d * (rows + 1) + 2 * rows * keyBlock + 2 * 64;
  return 4 * floats;
}

/** Why the short kernel cannot take this shape, or undefined if it can. */
export function shortAttentionRefusal(s: AttentionShape): string | undefined {
  if (s.seqLen > SHORT_ATTENTION_MAX_SEQ)
    return `sequence length ${s.seqLen} exceeds its maximum ${SHORT_ATTENTION_MAX_SEQ}`;
  if (s.headDim > SHORT_ATTENTION_MAX_HEAD_DIM)
    return `head dim ${s.headDim} exceeds its maximum ${SHORT_ATTENTION_MAX_HEAD_DIM}`;
  return undefined;
}

/**
 * The short kernel's key block on this adapter: the fewest key blocks that cover T (each
 * extra block re-reads Q and dO and adds to dQ in place), within the register tile and the
 * adapter's workgroup memory. 8 keys always fit WebGPU's guaranteed 16 KiB.
 */
export function shortAttentionKeyBlock(caps: GpuCapabilities, s: AttentionShape): number {
  const dims = Math.ceil(s.headDim / 8);
  const covering = Math.max(8, Math.ceil(s.seqLen / 8) * 8);
  const fits = SHORT_KEY_BLOCKS.filter(
    (k) =>
      (k / 8) * dims <= SHORT_REGISTER_TILE &&
      shortAttentionWorkgroupBytes(s.headDim, k) <= caps.limits.maxComputeWorkgroupStorageSize,
  );
  return Math.min(fits[0] ?? 8, covering);
}

/**
 * The backward for this shape: 'short' wherever it can take the shape (fewer dispatches and
 * S, dP computed once instead of twice), else 'flash'. `force` picks one (tests, the kernel
 * diagnostics); forcing 'short' on a shape it cannot take is an error.
 */
export function chooseAttentionBackward(
  caps: GpuCapabilities,
  s: AttentionShape,
  force?: AttentionBackwardKernel,
): AttentionBackwardPlan {
  const refusal = shortAttentionRefusal(s);
  if (force === 'short' && refusal)
    throw new RangeError(`attention backward: the short kernel cannot run it: ${refusal}`);
  if (force === 'flash' || refusal) return { kernel: 'flash' };
  const keyBlock = shortAttentionKeyBlock(caps, s);
  return {
    kernel: 'short',
    keyBlock,
    workgroupBytes: shortAttentionWorkgroupBytes(s.headDim, keyBlock),
  };
}
