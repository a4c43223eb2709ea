/**
 * The inference worker's second engine beside onnxruntime: one GPU device of our own (the
 * kernels' GpuContext, apart from onnxruntime's), one WgslEngine for the loaded model
 * (created on the first comparison, kept until the model changes or is unloaded), and the
 * comparison itself — the same preprocessed image through both engines, their top-5, the
 * largest |difference| of their logits (or features), each one's latency, and the probe's
 * attention over the image.
 */
import { decodeImageInBrowser } from '../data/decodeBrowser';
import { rgbaToRgb } from '../data/folderImages';
import { GpuContext } from '../gpu/context';
import { bundledShaderSource } from '../gpu/shaderSource.browser';
import { ImageFileError, modelInput, type LoadedSession } from './classify';
import { classNameFor } from './imagenetClasses';
import { knnScores, pooledUnitVectors } from './knnProbe';
import type { AdapterLimitsLike } from './memoryPlan';
import type { EngineComparison, EngineSide, WgslEnginePlanSummary } from './protocol';
import { rankScores, topK } from './topK';
import { WgslEngine, WgslEngineError } from './wgslEngine';
import { planWgslEngine } from './wgslEnginePlan';
import { wgslModelSpec } from './wgslEngineWeights';

interface HeldEngine {
  modelId: string;
  engine?: WgslEngine;
  refused?: string;
  createMs?: number;
  runs: number;
  onnxRuns: number;
}

export class WgslEngineSession {
  private ctx?: Promise<GpuContext>;
  private held?: HeldEngine;
  private creating?: Promise<HeldEngine>;

  private context(): Promise<GpuContext> {
    this.ctx ??= GpuContext.create({
      shaderSource: bundledShaderSource,
      onDeviceLost: () => {
        // A lost device cannot be reused: the next comparison starts afresh.
        this.ctx = undefined;
        this.held = undefined;
      },
    });
    this.ctx.catch(() => (this.ctx = undefined));
    return this.ctx;
  }

  /**
   * The engine for `s`'s model, created once per batch size (or the reason it cannot be): a
   * picture runs on an engine made for one image, so its latency is one image's.
   */
  private async engineFor(s: LoadedSession, capacity = 1): Promise<HeldEngine> {
    const id = s.files.id;
    const fits = (h?: HeldEngine) =>
      h?.modelId === id && (h.refused !== undefined || h.engine?.info.capacity === capacity);
    if (fits(this.held)) return this.held!;
    await this.creating?.catch(() => undefined);
    if (fits(this.held)) return this.held!;
    this.release();
    this.creating = (async () => {
      const ctx = await this.context();
      const started = performance.now();
      const held: HeldEngine = { modelId: id, runs: 0, onnxRuns: 0 };
      try {
        held.engine = await WgslEngine.create(ctx, s.files, capacity);
        held.createMs = performance.now() - started;
      } catch (error) {
        if (!(error instanceof WgslEngineError) && !(error instanceof RangeError)) throw error;
        held.refused = error.message;
      }
      this.held = held;
      return held;
    })();
    try {
      return await this.creating;
    } finally {
      this.creating = undefined;
    }
  }

  /** Our engine for `s` with room for `count` images, or why it cannot hold the model. */
  async engineForBatch(s: LoadedSession, count: number): Promise<WgslEngine> {
    const held = await this.engineFor(s, count);
    if (!held.engine) throw new WgslEngineError(held.refused ?? 'our engine is not available');
    return held.engine;
  }

  /** One image through both engines (see the file header). */
  async compare(s: LoadedSession, image: Blob, name: string): Promise<EngineComparison> {
    const bytes = new Uint8Array(await image.arrayBuffer());
    let decoded;
    try {
      decoded = await decodeImageInBrowser(bytes, name);
    } catch (error) {
      throw new ImageFileError(
        `${name} could not be read as an image: ${(error as Error).message}`,
        'Choose a PNG, JPEG, WebP, GIF or BMP picture; the model is fine and stays loaded.',
      );
    }
    const { plan } = s.files;
    const { tensor, cropped } = modelInput(s, rgbaToRgb(decoded));
    const held = await this.engineFor(s);
    const onnxOut = await s.model.run(tensor, [1, 3, plan.input.height, plan.input.width]);
    s.runs++;
    held.onnxRuns++;
    const onnxFeatures = onnxOut.outputs.features?.data;
    const onnxLogits = onnxOut.outputs.logits?.data;
    if (!onnxFeatures) throw new Error('the model returned no features');
    const { tokens: K, dim: D } = plan.features;
    const rows = Math.round(Math.sqrt((K * plan.input.height) / plan.input.width));
    const grid = { rows, cols: K / rows, dim: D };
    const topOf = (logits: Float32Array | undefined, features: Float32Array) =>
      this.top(s, logits, features, K, D);
    const onnx: EngineComparison['onnx'] = {
      top: topOf(onnxLogits, onnxFeatures),
      latencyMs: onnxOut.latencyMs,
      run: held.onnxRuns,
      backend: s.model.info.backend,
    };
    const base = { image: name, onnx, grid, input: cropped };
    if (!held.engine)
      return {
        ...base,
        refused: held.refused,
        compared: 'logits',
        maxAbsDiff: NaN,
        maxFeatureDiff: NaN,
      };
    const ours = await held.engine.run(tensor, 1);
    held.runs++;
    const wgsl: EngineComparison['wgsl'] = {
      top: topOf(ours.logits, ours.features),
      latencyMs: ours.latencyMs,
      run: held.runs,
      createMs: held.runs === 1 ? held.createMs : undefined,
      bytes: held.engine.info.bytes,
      precision: 'f32',
    };
    const compared = ours.logits && onnxLogits ? 'logits' : 'features';
    const maxFeatureDiff = maxAbsDifference(ours.features, onnxFeatures);
    return {
      ...base,
      wgsl,
      compared,
      maxAbsDiff:
        compared === 'logits' ? maxAbsDifference(ours.logits!, onnxLogits!) : maxFeatureDiff,
      maxFeatureDiff,
      attention: ours.attention
        ? { heads: held.engine.info.heads, weights: ours.attention }
        : undefined,
      features: ours.features,
    };
  }

  /** Top-5 from logits (the probe head), or from the session's k-NN probe on the features. */
  private top(
    s: LoadedSession,
    logits: Float32Array | undefined,
    features: Float32Array,
    K: number,
    D: number,
  ): EngineSide['top'] {
    if (logits)
      return topK(logits, Math.min(5, logits.length)).map((t) => ({
        ...t,
        name: s.files.plan.classNames?.[t.index] ?? classNameFor(t.index, logits.length),
      }));
    const knn = s.knn;
    if (!knn) return undefined;
    const scores = knnScores(knn.bank, pooledUnitVectors(features, 1, K, D));
    return rankScores(scores, Math.min(5, scores.length)).map((t) => ({
      ...t,
      name: knn.classes[t.index] ?? `class ${t.index}`,
    }));
  }

  /** Whether our engine can hold `s`'s model on an adapter with `limits`, before trying. */
  plan(s: LoadedSession, limits: AdapterLimitsLike): WgslEnginePlanSummary {
    try {
      const spec = wgslModelSpec(s.files.plan);
      const p = planWgslEngine(
        { config: spec.config, mode: spec.mode, classes: spec.classes },
        limits,
      );
      return {
        ok: p.ok,
        reason: p.reason && `our WGSL engine cannot hold this model: ${p.reason}`,
        totalBytes: p.totalBytes,
        largestTensor: p.largestTensor,
      };
    } catch (error) {
      if (error instanceof WgslEngineError) return { ok: false, reason: error.message };
      throw error;
    }
  }

  /** Frees the engine (a new model, or unloading). */
  release(): void {
    this.held?.engine?.destroy();
    this.held = undefined;
  }
}

/** max |a − b| over two equally long arrays (NaN anywhere makes it NaN: never hidden). */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length)
    throw new RangeError(`compared outputs differ in length: ${a.length} and ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > worst) worst = d;
  }
  return worst;
}
