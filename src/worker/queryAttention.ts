/**
 * The worker's half of the query-attention view (issue 14, "Per-patch views"): a run's stored
 * checkpoint decoded, one validation image in the trainer's evaluation view, and the float64
 * reference trunk's attention for every query of the chosen block (src/model/queryAttention.ts).
 * The page picks the query and head from the rows returned, so a click needs no new call.
 */
import { evalBatch, evalView } from '../data/batch';
import { imageAt, type ImageDataset } from '../data/dataset';
import { isAimConfig, numPatches } from '../model/config';
import { ORDERINGS, runPatchOrder, type Ordering } from '../model/orderings';
import { blockAttentionFromQkv, trunkQkvReference } from '../model/queryAttention';
import { decodeCheckpoint } from '../training/checkpoint';
import type { DatasetChoice } from './protocol';

export interface QueryAttentionRequest {
  runId: string;
  dataset: DatasetChoice;
  /** The run's ordering as its record says (the checkpoint's own settings win when present). */
  ordering: Ordering;
  /** Zero-based validation image. */
  imageIndex: number;
  /** Zero-based trunk block. */
  block: number;
  /** Prefix length S: 1 is causal, K fully bidirectional. */
  prefix: number;
}

export interface QueryAttentionResult {
  runId: string;
  /** The checkpoint's step. */
  step: number;
  ordering: Ordering;
  /** Token t is the patch at raster index order[t]. */
  order: number[];
  imageIndex: number;
  /** Validation images of the dataset (the picker's range). */
  imageCount: number;
  block: number;
  depth: number;
  prefix: number;
  positions: number;
  heads: number;
  /** Patches per side. */
  side: number;
  /** [heads, K, K] in sequence order (float32 for the page; computed in float64). */
  probs: Float32Array;
  /** The image as the model saw it (evaluation view), RGB row-major. */
  picture: { data: Uint8Array; width: number; height: number };
}

/** The last image's qkv of every block (one at a time: a few MB for aim-small). */
let lastTrunk: { key: string; qkv: Float64Array[] } | undefined;

/** The run has no stored weights: the page says so plainly (an imported run, for one). */
export class NoCheckpointError extends Error {
  override readonly name = 'NoCheckpointError';
  constructor(runId: string) {
    super(
      `run ${runId} has no checkpoint in this browser's storage (an imported run carries no weights): train it here to see its attention`,
    );
  }
}

/** A checkpoint's weights, shape, ordering and step (decoding is cheap: views, no copies). */
function weightsOf(runId: string, bytes: Uint8Array) {
  const ckpt = decodeCheckpoint(bytes, `run ${runId}'s checkpoint`);
  if (!isAimConfig(ckpt.modelConfig))
    throw new Error(`run ${runId}'s checkpoint has no readable model configuration`);
  const run = ckpt.runConfig as { ordering?: unknown } | null;
  return {
    config: ckpt.modelConfig,
    ordering: ORDERINGS.find((o) => o === run?.ordering),
    step: ckpt.step,
    params: new Map([...ckpt.params].map(([k, t]) => [k, t.data] as const)),
  };
}

/** Computes the request from a run's checkpoint bytes and its dataset (rejects saying why not). */
export async function queryAttentionOfRun(
  req: QueryAttentionRequest,
  checkpoint: Uint8Array | undefined,
  dataset: () => Promise<ImageDataset>,
): Promise<QueryAttentionResult> {
  if (!checkpoint) throw new NoCheckpointError(req.runId);
  const w = weightsOf(req.runId, checkpoint);
  // The dataset only once there are weights to look at (it may be a download, or gone).
  const data = await dataset();
  const c = w.config;
  const val = data.val;
  if (!(Number.isInteger(req.imageIndex) && req.imageIndex >= 0 && req.imageIndex < val.count))
    throw new RangeError(
      `validation image ${req.imageIndex + 1} does not exist: ${data.name} has ${val.count}`,
    );
  const ordering = w.ordering ?? req.ordering;
  const order = runPatchOrder({ ordering }, c);
  const size = c.imageSize;
  const image = evalBatch(val, [req.imageIndex], size).images;
  // Every block of this image and prefix at once, kept for the next request: another block
  // (or head, or query) then costs no forward (seconds of float64 on aim-small).
  const key = `${req.runId}|${w.step}|${checkpoint.byteLength}|${ordering}|${req.imageIndex}|${req.prefix}`;
  if (lastTrunk?.key !== key) {
    const input = { image, order, prefix: req.prefix, block: req.block };
    lastTrunk = { key, qkv: trunkQkvReference(c, w.params, input, c.depth) };
  } else if (!(req.block >= 0 && req.block < lastTrunk.qkv.length)) {
    throw new RangeError(
      `block ${req.block + 1} does not exist: the trunk has blocks 1 to ${c.depth}`,
    );
  }
  const { probs, positions, heads } = blockAttentionFromQkv(
    c,
    lastTrunk.qkv[req.block],
    req.prefix,
  );
  // A copy: the view may share the whole validation set's buffer, which comlink would clone.
  const picture = evalView(imageAt(val, req.imageIndex), size);
  return {
    runId: req.runId,
    step: w.step,
    ordering,
    order,
    imageIndex: req.imageIndex,
    imageCount: val.count,
    block: req.block,
    depth: c.depth,
    prefix: req.prefix,
    positions,
    heads,
    side: Math.sqrt(numPatches(c)),
    probs: Float32Array.from(probs),
    picture: { data: Uint8Array.from(picture.data), width: picture.width, height: picture.height },
  };
}
