/**
 * Classifying with a trained probe: the trunk and the probe on the GPU, BatchNorm in eval
 * mode (running statistics), as ml-aim at inference. The features go through the same bank
 * as in training (features.ts), segment by segment when the images exceed its budget.
 */
import type { GpuContext } from '../gpu/context';
import { numPatches, type AimConfig } from '../model/config';
import { featureCapacity, PROBE_FEATURE_BUDGET_BYTES, ProbeFeatures } from './features';
import { ProbeModel } from './probeModel';
import { PROBE_RECIPE, type ProbeKind } from './recipe';

export interface ClassifyWithProbeOptions {
  config: AimConfig;
  /** Trunk and head (head.*, with head.bn.running_*) by ml-aim key. */
  params: ReadonlyMap<string, Float32Array>;
  kind: ProbeKind;
  layers: number;
  causal: boolean;
  classes: number;
  /** Preprocessed images, float32 NCHW at the model's size. */
  images: Float32Array;
  featureBudgetBytes?: number;
}

/** Logits [count, classes], row-major. */
export async function classifyWithProbe(
  ctx: GpuContext,
  o: ClassifyWithProbeOptions,
): Promise<Float32Array> {
  const size = o.config.imageSize;
  const per = 3 * size * size;
  if (o.images.length === 0 || o.images.length % per !== 0)
    throw new RangeError(
      `probe: ${o.images.length} input values are not a whole number of 3×${size}×${size} images`,
    );
  const count = o.images.length / per;
  const want = { tokens: o.kind === 'attentive', pooled: o.kind === 'linear' };
  const capacity = Math.min(
    count,
    featureCapacity(ctx, o.config, want, o.featureBudgetBytes ?? PROBE_FEATURE_BUDGET_BYTES),
  );
  const evalBatch = Math.min(capacity, 256);
  const features = await ProbeFeatures.create(ctx, o.config, o.params, capacity, {
    layers: o.layers,
    causal: o.causal,
    ...want,
  });
  let model: ProbeModel | undefined;
  try {
    const bank = o.kind === 'attentive' ? features.tokenBank! : features.pooledBank!;
    model = await ProbeModel.create(
      ctx,
      o.kind,
      {
        tokens: numPatches(o.config),
        dim: o.config.width,
        heads: o.config.heads,
        classes: o.classes,
      },
      PROBE_RECIPE,
      bank,
      o.params,
      { train: 0, eval: evalBatch }, // (no training dispatches)
    );
    const logits = new Float32Array(count * o.classes);
    for (let from = 0; from < count; from += capacity) {
      const to = Math.min(count, from + capacity);
      await features.fill(o.images.subarray(from * per, to * per), to - from);
      for (let at = 0; at < to - from; at += evalBatch) {
        const n = Math.min(evalBatch, to - from - at);
        const index = Uint32Array.from({ length: n }, (_, i) => at + i);
        logits.set(await model.logitsOf(index), (from + at) * o.classes);
      }
    }
    return logits;
  } finally {
    model?.destroy();
    features.destroy();
  }
}
