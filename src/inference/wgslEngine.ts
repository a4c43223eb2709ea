/**
 * The Inference tab's second engine: the loaded model run on this project's own WGSL kernels
 * — the trunk bidirectionally (ml-aim's downstream mode) and ml-aim's attentive probe — from
 * the same weights onnxruntime runs (the ONNX file's initializers, wgslEngineWeights.ts). It
 * is no third forward: the trunk and the averaging of the probe layers are the probes'
 * ProbeFeatures (src/probe/features.ts, on AimGpuModel), the head their ProbeModel in eval
 * mode (BatchNorm with the running statistics → k, v → attention pooling → linear), the
 * same code `npm run probe` classifies with.
 *
 * A model without a probe (a run trained here, whose features are the post-trunk-normed last
 * block) gets that LayerNorm on our kernel instead, and is compared on its features.
 *
 * f32 throughout: fp16 and int4 models are widened to f32 when uploaded, so the two engines
 * differ only by summation order (and onnxruntime's fused kernels). There is no fp16-storage
 * path with f32 accumulation yet, even where the adapter has shader-f16.
 */
import type { GpuContext } from '../gpu/context';
import { releaseDispatch, runDispatches, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { prepareLayerNormForward } from '../kernels/layernorm';
import { numPatches } from '../model/config';
import { trunkParamSpecs } from '../model/params';
import { ProbeFeatures } from '../probe/features';
import { ProbeModel } from '../probe/probeModel';
import { PROBE_RECIPE } from '../probe/recipe';
import type { AimModelPlan } from './modelPlan';
import { planWgslEngine } from './wgslEnginePlan';
import {
  OnnxWeightReader,
  WgslEngineError,
  wgslModelSpec,
  type WgslModelSpec,
} from './wgslEngineWeights';

export { WgslEngineError } from './wgslEngineWeights';

/** What our engine computes for a batch of preprocessed images. */
export interface WgslRun {
  /** [n, classes] when the model has a probe. */
  logits?: Float32Array;
  /** [n, K, D]: what the ONNX graph calls `features`. */
  features: Float32Array;
  /** [n, heads, K]: the probe's attention-pooling weights, when it has a probe. */
  attention?: Float32Array;
  /** From the upload of the images to the results on the CPU. */
  latencyMs: number;
}

export interface WgslEngineInfo {
  createMs: number;
  /** Bytes of GPU memory the engine planned (and allocated). */
  bytes: number;
  tokens: number;
  dim: number;
  heads: number;
  mode: WgslModelSpec['mode'];
  capacity: number;
}

/** The model's files as the worker holds them (src/inference/modelSources.ts ModelFiles). */
export interface WgslModelFiles {
  modelBytes: Uint8Array;
  shards: ReadonlyMap<string, Blob>;
  plan: AimModelPlan;
}

export class WgslEngine {
  private constructor(
    private readonly ctx: GpuContext,
    readonly spec: WgslModelSpec,
    readonly info: WgslEngineInfo,
    private readonly features: ProbeFeatures,
    private readonly probe: ProbeModel | undefined,
    private readonly norm:
      { y: Tensor<'f32'>; owned: Tensor[]; list: PreparedDispatch[] } | undefined,
  ) {}

  /**
   * Reads the weights tensor by tensor and prepares every dispatch for up to `capacity`
   * images at once. Throws WgslEngineError (with the reason) for a model it cannot hold.
   */
  static async create(ctx: GpuContext, files: WgslModelFiles, capacity = 1): Promise<WgslEngine> {
    const started = performance.now();
    const spec = wgslModelSpec(files.plan);
    const { config } = spec;
    const plan = planWgslEngine(
      { config, mode: spec.mode, classes: spec.classes },
      ctx.device.limits,
      { images: capacity },
    );
    if (!plan.ok)
      throw new WgslEngineError(`our WGSL engine cannot hold this model: ${plan.reason}`);
    const reader = new OnnxWeightReader(files.modelBytes, files.shards);
    for (const key of ['head.k.bias', 'head.v.bias'])
      if (reader.has(key))
        throw new WgslEngineError(`our WGSL engine's probe has no ${key}, which this model uses`);
    const shapes = new Map(trunkParamSpecs(config).map((s) => [s.name, s]));
    const D = config.width;
    const loadTrunk = async (name: string): Promise<ArrayLike<number>> => {
      const s = shapes.get(name);
      if (!s) throw new WgslEngineError(`unexpected trunk tensor ${name}`);
      if (reader.has(name)) return reader.read(name, s.shape);
      // A probe-layers graph stops before post_trunk_norm, which the trunk's dispatches never
      // read either (they end at the last block): the identity keeps the model complete.
      if (name.startsWith('trunk.post_trunk_norm') && spec.mode === 'probe-layers')
        return new Float32Array(D).fill(name.endsWith('weight') ? 1 : 0);
      if (s.optional) return new Float32Array(s.shape.reduce((a, b) => a * b, 1));
      throw new WgslEngineError(`the model has no ${name}`);
    };
    const features = await ProbeFeatures.create(ctx, config, loadTrunk, capacity, {
      layers: spec.layers,
      causal: false,
      tokens: true,
      pooled: false,
    });
    const K = numPatches(config);
    let probe: ProbeModel | undefined;
    let norm: { y: Tensor<'f32'>; owned: Tensor[]; list: PreparedDispatch[] } | undefined;
    try {
      if (spec.classes !== undefined) {
        const C = spec.classes;
        const head = new Map<string, Float32Array>();
        const take = async (key: string, shape: number[], absent?: () => Float32Array) => {
          if (reader.has(key)) head.set(key, await reader.read(key, shape));
          else if (absent) head.set(key, absent());
          else throw new WgslEngineError(`the model's probe has no ${key}`);
        };
        await take('head.cls_token', [1, 1, D]);
        await take('head.k.weight', [D, D]);
        await take('head.v.weight', [D, D]);
        await take('head.linear.weight', [C, D]);
        await take('head.linear.bias', [C], () => new Float32Array(C));
        // No BatchNorm in the graph: statistics that make it the identity, (x − 0)/√(1 − ε + ε).
        await take('head.bn.running_mean', [D], () => new Float32Array(D));
        await take('head.bn.running_var', [D], () => new Float32Array(D).fill(1 - 1e-6));
        probe = await ProbeModel.create(
          ctx,
          'attentive',
          { tokens: K, dim: D, heads: config.heads, classes: C },
          PROBE_RECIPE,
          features.tokenBank!,
          head,
          { train: 0, eval: capacity },
        );
      } else {
        const owned = [
          Tensor.empty(ctx, [capacity * K, D], 'f32', 'post-trunk norm output'),
          Tensor.empty(ctx, [capacity * K], 'f32', 'post-trunk norm mean'),
          Tensor.empty(ctx, [capacity * K], 'f32', 'post-trunk norm rstd'),
          Tensor.fromArray(
            ctx,
            [D],
            'f32',
            Float32Array.from(await loadTrunk('trunk.post_trunk_norm.weight')),
            'post_trunk_norm.weight',
          ),
          Tensor.fromArray(
            ctx,
            [D],
            'f32',
            Float32Array.from(await loadTrunk('trunk.post_trunk_norm.bias')),
            'post_trunk_norm.bias',
          ),
        ];
        const [y, mean, rstd, weight, bias] = owned;
        norm = { y, owned, list: [] };
        norm.list = await prepareLayerNormForward(
          ctx,
          { x: features.tokenBank!.view([capacity * K, D]), weight, bias, y, mean, rstd },
          { eps: config.trunkNormEps },
        );
      }
    } catch (error) {
      probe?.destroy();
      for (const t of norm?.owned ?? []) t.destroy();
      features.destroy();
      throw error;
    }
    return new WgslEngine(
      ctx,
      spec,
      {
        createMs: performance.now() - started,
        bytes: plan.totalBytes,
        tokens: K,
        dim: D,
        heads: config.heads,
        mode: spec.mode,
        capacity,
      },
      features,
      probe,
      norm,
    );
  }

  /** Runs `count` preprocessed images (NCHW f32 at the model's size). */
  async run(images: Float32Array, count: number): Promise<WgslRun> {
    if (count < 1 || count > this.info.capacity)
      throw new RangeError(`our engine holds 1…${this.info.capacity} images, not ${count}`);
    const { tokens: K, dim: D } = this.info;
    const started = performance.now();
    await this.features.fill(images, count);
    let logits: Float32Array | undefined;
    let attention: Float32Array | undefined;
    let features: Float32Array;
    if (this.probe) {
      logits = await this.probe.logitsOf(Uint32Array.from({ length: count }, (_, i) => i));
      attention = await this.probe.attentionOf(count);
      features = (await this.features.tokenBank!.download()).slice(0, count * K * D);
    } else {
      await runDispatches(this.ctx, this.norm!.list);
      features = (await this.norm!.y.download()).slice(0, count * K * D);
    }
    return { logits, features, attention, latencyMs: performance.now() - started };
  }

  destroy(): void {
    this.probe?.destroy();
    if (this.norm) {
      for (const d of this.norm.list) releaseDispatch(d);
      for (const t of this.norm.owned) t.destroy();
    }
    this.features.destroy();
  }
}
