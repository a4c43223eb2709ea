/**
 * Probing one cell of a paper table: the labelled images the probes train and are tested on
 * (the dataset's first training and validation images, evaluation preprocessing, no
 * augmentation), and both probes (linear, attentive) on the frozen trunk of the cell's
 * pre-training, run causally or bidirectionally as the table asks (Table 3d).
 */
import { evalBatch } from '../data/batch';
import type { ImageDataset, RgbImages } from '../data/dataset';
import type { GpuContext } from '../gpu/context';
import type { AimConfig } from '../model/config';
import { PROBE_RECIPE, trainProbes } from '../probe/trainProbe';

export interface CellProbeOptions {
  config: AimConfig;
  /** The trained model's parameters by name (the trunk's are used). */
  params: Map<string, Float32Array>;
  dataset: ImageDataset;
  causal: boolean;
  /** The last L trunk blocks whose outputs are averaged into the features (ml-aim's probe_layers). */
  layers: number;
  /** Training images the probes learn from, and validation images they are tested on. */
  trainImages: number;
  heldOutImages: number;
  /** Seeds the probes' initialisation and minibatch order. */
  seed: number;
  /** Epochs of the probes' training (undefined: PROBE_RECIPE's). */
  epochs?: number;
  onProgress?: (message: string) => void;
}

export interface CellProbeResult {
  /** Top-1 on the held-out images, as a percentage. */
  linear: number;
  attentive: number;
  /** Top-1 on the probes' own training images, as a percentage. */
  linearTrain: number;
  attentiveTrain: number;
  /** The probes' optimisation recipe, as recorded with the result. */
  recipe: unknown;
}

/** The number of probe layers a grid uses unless told: a quarter of the trunk, as ml-aim's 6 of 24. */
export function defaultProbeLayers(depth: number): number {
  return Math.max(1, Math.round(depth / 4));
}

/** The first `count` images of `set` (all of them when it has fewer), as the model sees them. */
export function labelledImages(set: RgbImages, count: number, size: number) {
  const n = Math.min(count, set.count);
  const batch = evalBatch(
    set,
    Array.from({ length: n }, (_, i) => i),
    size,
  );
  return { images: batch.images, labels: batch.labels };
}

/** Trains and tests both probes of one cell. */
export async function probeCell(ctx: GpuContext, opts: CellProbeOptions): Promise<CellProbeResult> {
  const size = opts.config.imageSize;
  const results = await trainProbes(ctx, {
    config: opts.config,
    params: opts.params,
    train: labelledImages(opts.dataset.train, opts.trainImages, size),
    heldOut: labelledImages(opts.dataset.val, opts.heldOutImages, size),
    numClasses: opts.dataset.classes.length,
    kinds: ['linear', 'attentive'],
    layers: opts.layers,
    causal: opts.causal,
    seed: opts.seed,
    recipe: opts.epochs === undefined ? PROBE_RECIPE : { ...PROBE_RECIPE, epochs: opts.epochs },
    onProgress: (p) =>
      opts.onProgress?.(
        p.phase === 'features'
          ? `features ${p.done} of ${p.total}`
          : p.phase === 'train'
            ? `probe epoch ${p.epoch} of ${p.epochs}`
            : `evaluating on the ${p.split} images`,
      ),
  });
  const byKind = (kind: 'linear' | 'attentive') => {
    const r = results.find((x) => x.kind === kind);
    if (!r) throw new Error(`the ${kind} probe returned no result`);
    return r;
  };
  const linear = byKind('linear');
  const attentive = byKind('attentive');
  return {
    linear: toPercent(linear.top1),
    attentive: toPercent(attentive.top1),
    linearTrain: toPercent(linear.trainTop1),
    attentiveTrain: toPercent(attentive.trainTop1),
    recipe: attentive.recipe,
  };
}

/** The probes report top-1 as a fraction; the paper's tables print percentages. */
function toPercent(top1: number): number {
  return top1 * 100;
}
