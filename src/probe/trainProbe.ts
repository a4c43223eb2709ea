/**
 * Attentive and linear probes on a frozen AIM trunk (issue 14), in the page's worker and in
 * Node alike (no Node imports here): features computed once per evaluation and kept on the
 * GPU (features.ts, within PROBE_FEATURE_BUDGET_BYTES, refilled segment by segment when a
 * split is larger), each probe trained with PROBE_RECIPE (recipe.ts) on the labelled
 * training images and scored top-1 on the held-out ones. Both probes read the same features
 * and train on the same minibatches.
 *
 * Minibatches: each epoch visits the training images in a fresh seeded order in batches of
 * the recipe's size; a last incomplete batch is dropped (torch's drop_last, so the batch
 * statistics of BatchNorm never come from a handful of samples). Evaluation uses the running
 * statistics (eval mode), as ml-aim at inference.
 */
import type { GpuContext } from '../gpu/context';
import { numPatches, type AimConfig } from '../model/config';
import { mulberry32 } from '../reference/random';
import { featureCapacity, PROBE_FEATURE_BUDGET_BYTES, ProbeFeatures } from './features';
import { ProbeModel } from './probeModel';
import {
  initialProbeParams,
  PROBE_RECIPE,
  probeLearningRate,
  validateRecipe,
  type ProbeKind,
  type ProbeRecipe,
} from './recipe';

export { PROBE_RECIPE, type ProbeKind, type ProbeRecipe } from './recipe';

/** Preprocessed images (float32 NCHW at the model's size) and a label each. */
export interface LabelledImages {
  images: Float32Array;
  labels: ArrayLike<number>;
}

export interface ProbePrediction {
  /** Index of the image in the held-out split. */
  index: number;
  label: number;
  predicted: number;
  logits: number[];
}

export interface ProbeResult {
  kind: ProbeKind;
  layers: number;
  causal: boolean;
  /** Top-1 on the held-out images, a fraction in [0, 1]. */
  top1: number;
  /** Top-1 on the training images (eval mode), a fraction. */
  trainTop1: number;
  recipe: ProbeRecipe;
  /** ml-aim keys: head.* (and head.bn.num_batches_tracked as one value). */
  weights: Map<string, Float32Array>;
  predictions: ProbePrediction[];
  /** Mean training loss of each epoch. */
  epochLosses: number[];
}

export type ProbeProgress =
  | { phase: 'features'; done: number; total: number }
  | { phase: 'train'; epoch: number; epochs: number; losses: Partial<Record<ProbeKind, number>> }
  | { phase: 'evaluate'; split: 'train' | 'held-out' };

export interface TrainProbesOptions {
  config: AimConfig;
  /** ml-aim-keyed parameters: the trunk's are used, any others (a pre-training head) ignored. */
  params: ReadonlyMap<string, ArrayLike<number>>;
  train: LabelledImages;
  heldOut: LabelledImages;
  /** Classes of the labels; default: the largest label + 1. */
  numClasses?: number;
  kinds: readonly ProbeKind[];
  /** The last L trunk blocks are averaged into the features. */
  layers: number;
  /** Trunk run causally (raster order) instead of bidirectionally (Table 3d). */
  causal: boolean;
  recipe?: ProbeRecipe;
  /** Seeds the probes' initialisation and minibatch order (default 0). */
  seed?: number;
  /** GPU bytes for the feature bank (default PROBE_FEATURE_BUDGET_BYTES). */
  featureBudgetBytes?: number;
  onProgress?: (p: ProbeProgress) => void;
}

/** Images of `set` at positions `order[from…to)` gathered into one array. */
function gatherImages(
  set: LabelledImages,
  per: number,
  order: ArrayLike<number>,
  from: number,
  to: number,
) {
  const out = new Float32Array((to - from) * per);
  for (let i = from; i < to; i++)
    out.set(set.images.subarray(order[i] * per, (order[i] + 1) * per), (i - from) * per);
  return out;
}

function checkSplit(name: string, set: LabelledImages, per: number, classes: number): number {
  const count = set.labels.length;
  if (count < 1) throw new RangeError(`probe: the ${name} split has no images`);
  if (set.images.length !== count * per)
    throw new RangeError(
      `probe: the ${name} split has ${set.images.length} values for ${count} images of ${per}`,
    );
  for (let i = 0; i < count; i++) {
    const l = set.labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= classes)
      throw new RangeError(`probe: ${name} label ${l} (image ${i}) is outside 0…${classes - 1}`);
  }
  return count;
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
  return best;
}

function shuffled(count: number, random: () => number): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Trains the probes of `kinds` on the frozen trunk and evaluates them (see the file's header). */
export async function trainProbes(
  ctx: GpuContext,
  opts: TrainProbesOptions,
): Promise<ProbeResult[]> {
  const { config, layers, causal } = opts;
  const recipe = opts.recipe ?? PROBE_RECIPE;
  const problems = validateRecipe(recipe);
  if (problems.length) throw new RangeError(`probe recipe: ${problems.join(' ')}`);
  const kinds = [...new Set(opts.kinds)];
  if (kinds.length === 0) throw new RangeError('probe: no probe kind asked for');
  const per = 3 * config.imageSize * config.imageSize;
  let maxLabel = 0;
  for (const set of [opts.train, opts.heldOut])
    for (let i = 0; i < set.labels.length; i++) maxLabel = Math.max(maxLabel, set.labels[i]);
  const classes = opts.numClasses ?? maxLabel + 1;
  const trainCount = checkSplit('training', opts.train, per, classes);
  const heldCount = checkSplit('held-out', opts.heldOut, per, classes);
  const N = numPatches(config);
  const batch = Math.min(recipe.batch, trainCount);
  const want = { tokens: kinds.includes('attentive'), pooled: kinds.includes('linear') };
  if (want.pooled && batch < 2)
    throw new RangeError(
      'probe: the linear probe needs at least 2 training images (BatchNorm over the batch)',
    );
  const capacity = Math.min(
    Math.max(trainCount, heldCount),
    featureCapacity(ctx, config, want, opts.featureBudgetBytes ?? PROBE_FEATURE_BUDGET_BYTES),
  );
  if (capacity < batch)
    throw new RangeError(
      `probe: the feature budget holds ${capacity} images, fewer than a batch of ${batch}`,
    );
  const evalBatch = Math.min(capacity, 256);
  const random = mulberry32((opts.seed ?? 0) + 0x9e3779b9);
  const features = await ProbeFeatures.create(ctx, config, opts.params, capacity, {
    layers,
    causal,
    ...want,
  });
  const models: ProbeModel[] = [];
  try {
    for (const kind of kinds) {
      const bank = kind === 'attentive' ? features.tokenBank! : features.pooledBank!;
      const initial = initialProbeParams(kind, config.width, classes, random);
      models.push(
        await ProbeModel.create(
          ctx,
          kind,
          { tokens: N, dim: config.width, heads: config.heads, classes },
          recipe,
          bank,
          initial,
          { train: batch, eval: evalBatch },
        ),
      );
    }
    const progress = opts.onProgress ?? (() => {});
    const trainLabels = Uint32Array.from(opts.train.labels);
    // Whole training split in the bank: fill once, in image order.
    const resident = trainCount <= capacity;
    if (resident) {
      progress({ phase: 'features', done: 0, total: trainCount });
      await features.fill(opts.train.images, trainCount);
      progress({ phase: 'features', done: trainCount, total: trainCount });
    }
    const segmentsOf = (count: number) => {
      const out: Array<[number, number]> = [];
      for (let s = 0; s < count; s += capacity) out.push([s, Math.min(count, s + capacity)]);
      return out;
    };
    const stepsPerEpoch = segmentsOf(trainCount).reduce(
      (n, [a, b]) => n + Math.floor((b - a) / batch),
      0,
    );
    const totalSteps = stepsPerEpoch * recipe.epochs;
    const epochLosses = new Map<ProbeKind, number[]>(kinds.map((k) => [k, []]));
    let step = 0;
    for (let epoch = 0; epoch < recipe.epochs; epoch++) {
      const order = shuffled(trainCount, random);
      const pending: Promise<void>[] = [];
      for (const [from, to] of segmentsOf(trainCount)) {
        // A segment's images fill the bank in `order`, so bank slot i holds order[from + i].
        if (!resident)
          await features.fill(gatherImages(opts.train, per, order, from, to), to - from);
        for (let at = from; at + batch <= to; at += batch) {
          const index = new Uint32Array(batch);
          const labels = new Uint32Array(batch);
          for (let i = 0; i < batch; i++) {
            const image = order[at + i];
            index[i] = resident ? image : at + i - from;
            labels[i] = trainLabels[image];
          }
          const lr = probeLearningRate(recipe, step, totalSteps);
          // Not awaited one by one: each step's uploads are queued between the submissions
          // (queue order), so the CPU need not wait for the GPU until the epoch's end.
          for (const m of models) {
            const done = m.trainStep(index, labels, lr);
            done.catch(() => {}); // (handled by Promise.all below; no unhandled-rejection noise)
            pending.push(done);
          }
          step++;
        }
      }
      await Promise.all(pending);
      const losses: Partial<Record<ProbeKind, number>> = {};
      for (const m of models) {
        const loss = await m.takeMeanLoss(stepsPerEpoch);
        if (!Number.isFinite(loss))
          throw new Error(`probe: the ${m.kind} probe's loss became ${loss} in epoch ${epoch + 1}`);
        losses[m.kind] = loss;
        epochLosses.get(m.kind)!.push(loss);
      }
      progress({ phase: 'train', epoch: epoch + 1, epochs: recipe.epochs, losses });
    }

    /** Logits of every image of a split, per model, refilling the bank by segments. */
    const evaluate = async (set: LabelledImages, count: number, inBank: boolean) => {
      const logits = models.map(() => new Float32Array(count * classes));
      const identity = Uint32Array.from({ length: count }, (_, i) => i);
      for (const [from, to] of segmentsOf(count)) {
        if (!inBank) await features.fill(gatherImages(set, per, identity, from, to), to - from);
        for (let at = from; at < to; at += evalBatch) {
          const n = Math.min(evalBatch, to - at);
          const index = Uint32Array.from({ length: n }, (_, i) =>
            inBank ? at + i : at - from + i,
          );
          for (let m = 0; m < models.length; m++)
            logits[m].set(await models[m].logitsOf(index), at * classes);
        }
      }
      return logits;
    };
    const top1 = (logits: Float32Array, labels: ArrayLike<number>) => {
      let correct = 0;
      for (let i = 0; i < labels.length; i++)
        if (argmax(logits.subarray(i * classes, (i + 1) * classes)) === labels[i]) correct++;
      return correct / labels.length;
    };
    progress({ phase: 'evaluate', split: 'train' });
    const trainLogits = await evaluate(opts.train, trainCount, resident);
    progress({ phase: 'evaluate', split: 'held-out' });
    const heldLogits = await evaluate(opts.heldOut, heldCount, false);
    const results: ProbeResult[] = [];
    for (let m = 0; m < models.length; m++) {
      const logits = heldLogits[m];
      const predictions: ProbePrediction[] = [];
      for (let i = 0; i < heldCount; i++) {
        const row = logits.subarray(i * classes, (i + 1) * classes);
        predictions.push({
          index: i,
          label: opts.heldOut.labels[i],
          predicted: argmax(row),
          logits: Array.from(row),
        });
      }
      results.push({
        kind: models[m].kind,
        layers,
        causal,
        top1: top1(logits, opts.heldOut.labels),
        trainTop1: top1(trainLogits[m], opts.train.labels),
        recipe,
        weights: await models[m].weights(),
        predictions,
        epochLosses: epochLosses.get(models[m].kind)!,
      });
    }
    return results;
  } finally {
    for (const m of models) m.destroy();
    features.destroy();
  }
}
