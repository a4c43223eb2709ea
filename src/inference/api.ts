/**
 * The inference worker's API (comlink): plan a model, load it, classify images. It lives in
 * its own worker, apart from training, so a multi-gigabyte session load or a slow wasm run
 * never stalls the page or a training run, and onnxruntime's WebGPU device is its own.
 *
 * Every load is two steps the page shows separately: `inspect…` reads only model.onnx and
 * answers what loading would cost (files, sizes, GPU memory, whether this adapter can hold
 * it); `load` then moves the bytes with progress and creates the session.
 */
import { decodeImageInBrowser } from '../data/decodeBrowser';
import { rgbaToRgb } from '../data/folderImages';
import type { RgbImage } from '../data/dataset';
import type { WeightFormat } from '../onnx/export';
import { serializeError, type SerializedError } from '../worker/protocol';
import { featurePcaImage } from './featurePca';
import { classNameFor } from './imagenetClasses';
import { ModelCache, setStorageQuotaOverride, type CachedModelEntry } from './modelCache';
import { ModelFileError, type AimModelPlan } from './modelPlan';
import {
  cacheLocalModel,
  downloadModel,
  inspectFiles,
  inspectUrl,
  openCached,
  type Inspection,
  type ModelFiles,
  type ProgressListener,
} from './modelSources';
import {
  checkFits,
  estimateForConfig,
  estimateForPlan,
  type AdapterLimitsLike,
  type Fit,
  type MemoryEstimate,
} from './memoryPlan';
import {
  jspiAvailable,
  OnnxModelSession,
  webgpuUnavailableReason,
  type Backend,
} from './onnxSession';
import { preprocessForAim } from './preprocess';
import { exportRunModel } from './runExport';
import { rankScores, topK } from './topK';
import {
  KNN_K,
  knnAccuracy,
  knnScores,
  makeBank,
  pooledUnitVectors,
  type KnnBank,
} from './knnProbe';
import type { LabelledSample } from '../worker/api';

/** Images per onnxruntime run while fitting the k-NN probe. */
const KNN_BATCH = 32;
import { PRESETS } from '../model/config';

export interface InferenceEnvironment {
  /** Why WebGPU cannot run models here; undefined when it can. */
  webgpuUnavailable?: string;
  jspi: boolean;
  limits?: AdapterLimitsLike;
  adapter?: string;
  crossOriginIsolated: boolean;
}

export interface ModelCard {
  id: string;
  label: string;
  source: string;
  plan: AimModelPlan;
  estimate: MemoryEstimate;
  fit: Fit;
  cached: boolean;
}

export interface LoadedModel extends ModelCard {
  backend: Backend;
  fallbackReason?: string;
  cacheNote?: string;
  createMs: number;
}

export interface PresetPlan {
  preset: string;
  format: WeightFormat;
  estimate: MemoryEstimate;
  fit: Fit;
}

export interface KnnProbeSummary {
  dataset: string;
  trainCount: number;
  valCount: number;
  /** Top-1 accuracy on the held-out images. */
  valAccuracy: number;
  k: number;
  ms: number;
}

export interface Classification {
  /** Top-5 classes: from the model's probe head, or from the k-NN probe when it has none. */
  top?: { index: number; name: string; probability: number }[];
  topSource?: 'probe head' | 'k-NN';
  latencyMs: number;
  /** Runs of this session so far; the first includes shader compilation. */
  run: number;
  backend: Backend;
  /** The centre crop the model saw, as pixels. */
  input: RgbImage;
  /** PCA of the patch features (3 components → RGB), at the input's size. */
  pca: { image: RgbImage; explained: number[] };
  featureDims: readonly number[];
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

/** Errors cross the worker boundary as data, so the page can show them plainly. */
async function settle<T>(work: () => Promise<T>): Promise<ApiResult<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}

export class InferenceWorkerApi {
  private env?: Promise<InferenceEnvironment>;
  private cache?: Promise<ModelCache | undefined>;
  private pending?: { inspection: Inspection; localShards?: Map<string, Blob> };
  private session?: {
    model: OnnxModelSession;
    files: ModelFiles;
    runs: number;
    knn?: { bank: KnnBank; classes: readonly string[]; summary: KnnProbeSummary };
  };

  environment(): Promise<InferenceEnvironment> {
    this.env ??= (async () => {
      const webgpuUnavailable = await webgpuUnavailableReason();
      let limits: AdapterLimitsLike | undefined;
      let adapter: string | undefined;
      if (!webgpuUnavailable) {
        const a = await navigator.gpu.requestAdapter();
        if (a) {
          limits = {
            maxBufferSize: a.limits.maxBufferSize,
            maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
          };
          adapter = a.info.description || [a.info.vendor, a.info.architecture].join(' ');
        }
      }
      return {
        webgpuUnavailable,
        jspi: jspiAvailable(),
        limits,
        adapter,
        crossOriginIsolated: globalThis.crossOriginIsolated === true,
      };
    })();
    return this.env;
  }

  /** Memory needed by the paper's models per weight format, and whether this adapter fits. */
  async presetPlans(backend: Backend = 'webgpu'): Promise<PresetPlan[]> {
    const env = await this.environment();
    const plans: PresetPlan[] = [];
    for (const name of ['aim-600M', 'aim-1B', 'aim-3B', 'aim-7B'] as const) {
      const p = PRESETS[name];
      for (const format of ['fp32', 'fp16', 'int4'] as const) {
        const estimate = estimateForConfig(
          {
            imgSize: p.imageSize,
            patchSize: p.patchSize,
            embedDim: p.width,
            numBlocks: p.depth,
            numHeads: p.heads,
            probe: { classes: 1000 },
            // The released 7B's best probe layers stop at block 20 of 32.
            blocks: name === 'aim-7B' ? 20 : p.depth,
          },
          format,
        );
        plans.push({ preset: name, format, estimate, fit: this.fit(estimate, env, backend) });
      }
    }
    return plans;
  }

  listCached(): Promise<ApiResult<CachedModelEntry[]>> {
    return settle(async () => (await this.modelCache())?.list() ?? []);
  }

  removeCached(id: string): Promise<ApiResult<void>> {
    return settle(async () => {
      if (this.session?.files.id === id) await this.unload();
      await (await this.modelCache())?.remove(id);
    });
  }

  inspectUrl(url: string, backend: Backend = 'webgpu'): Promise<ApiResult<ModelCard>> {
    return settle(async () => {
      const inspection = await inspectUrl(url, self.location.href);
      this.pending = { inspection };
      return this.card(inspection, backend);
    });
  }

  inspectFiles(files: File[], backend: Backend = 'webgpu'): Promise<ApiResult<ModelCard>> {
    return settle(async () => {
      const { inspection, shards } = await inspectFiles(files);
      this.pending = { inspection, localShards: shards };
      return this.card(inspection, backend);
    });
  }

  /** Loads what the last inspect… call planned. */
  loadPending(backend: Backend, onProgress?: ProgressListener): Promise<ApiResult<LoadedModel>> {
    return settle(async () => {
      const pending = this.pending;
      if (!pending) throw new Error('inspect a model first');
      const card = await this.card(pending.inspection, backend);
      if (!card.fit.ok) throw new ModelFileError(card.fit.reason);
      const cache = await this.modelCache();
      let files: ModelFiles;
      if (card.cached && cache) files = await openCached(cache, card.id);
      else if (pending.localShards)
        files = await cacheLocalModel(pending.inspection, pending.localShards, cache, onProgress);
      else files = await downloadModel(pending.inspection, cache, onProgress);
      this.pending = undefined;
      return this.open(files, backend, onProgress);
    });
  }

  loadCached(id: string, backend: Backend, onProgress?: ProgressListener) {
    return settle(async () => {
      const cache = await this.modelCache();
      if (!cache) throw new Error('this browser has no model cache');
      const files = await openCached(cache, id);
      const fit = this.fit(estimateForPlan(files.plan), await this.environment(), backend);
      if (!fit.ok) throw new ModelFileError(fit.reason);
      return this.open(files, backend, onProgress);
    });
  }

  /** Exports a training run's checkpoint to ONNX here, caches and loads it. */
  loadRun(
    checkpoint: Uint8Array,
    run: { runId: string; label: string },
    backend: Backend,
    onProgress?: ProgressListener,
  ) {
    return settle(async () => {
      const files = await exportRunModel(
        checkpoint,
        run,
        await this.modelCache(),
        'fp32',
        onProgress,
      );
      return this.open(files, backend, onProgress);
    });
  }

  classify(image: Blob, name: string): Promise<ApiResult<Classification>> {
    return settle(async () => {
      const s = this.session;
      if (!s) throw new Error('load a model first');
      const bytes = new Uint8Array(await image.arrayBuffer());
      let decoded;
      try {
        decoded = await decodeImageInBrowser(bytes, name);
      } catch (error) {
        throw new ModelFileError(
          `${name} could not be read as an image: ${(error as Error).message}`,
        );
      }
      const { plan } = s.files;
      const crop = plan.input.height;
      const { tensor, cropped } = preprocessForAim(rgbaToRgb(decoded), crop);
      const { outputs, latencyMs } = await s.model.run(tensor, [1, 3, crop, plan.input.width]);
      s.runs++;
      const features = outputs.features;
      if (!features) throw new Error('the model returned no features');
      const tokens = features.dims[1];
      const gridH = Math.round(Math.sqrt((tokens * plan.input.height) / plan.input.width));
      // One patch's worth of pixels per token, so the picture lines up with the crop.
      const pca = featurePcaImage(
        features.data,
        gridH,
        tokens / gridH,
        Math.max(1, Math.floor(crop / gridH)),
      );
      const logits = outputs.logits;
      let top: Classification['top'];
      let topSource: Classification['topSource'];
      if (logits) {
        top = topK(logits.data, 5).map((t) => ({
          ...t,
          name: classNameFor(t.index, logits.dims[1]),
        }));
        topSource = 'probe head';
      } else if (s.knn) {
        const knn = s.knn;
        const query = pooledUnitVectors(features.data, 1, tokens, features.dims[2]);
        const scores = knnScores(knn.bank, query);
        top = rankScores(scores, Math.min(5, scores.length)).map((t) => ({
          ...t,
          name: knn.classes[t.index] ?? `class ${t.index}`,
        }));
        topSource = 'k-NN';
      }
      return {
        top,
        topSource,
        latencyMs,
        run: s.runs,
        backend: s.model.info.backend,
        input: cropped,
        pca: {
          image: { width: pca.width, height: pca.height, data: pca.data },
          explained: pca.explainedVariance,
        },
        featureDims: features.dims,
      };
    });
  }

  /**
   * Fits the k-NN probe (src/inference/knnProbe.ts) on labelled images already preprocessed
   * as the trainer evaluates them, and measures its top-1 accuracy on the held-out ones.
   */
  fitKnnProbe(sample: LabelledSample): Promise<ApiResult<KnnProbeSummary>> {
    return settle(async () => {
      const s = this.session;
      if (!s) throw new Error('load a model first');
      const started = performance.now();
      const vectorsOf = async (part: LabelledSample['train']) => {
        const size = sample.size;
        const per = 3 * size * size;
        const chunks: Float64Array[] = [];
        let dim = 0;
        for (let at = 0; at < part.count; at += KNN_BATCH) {
          const n = Math.min(KNN_BATCH, part.count - at);
          const images = part.images.subarray(at * per, (at + n) * per);
          const { outputs } = await s.model.run(images, [n, 3, size, size]);
          const f = outputs.features;
          if (!f) throw new Error('the model returned no features');
          dim = f.dims[2];
          chunks.push(pooledUnitVectors(f.data, n, f.dims[1], dim));
        }
        const all = new Float64Array(part.count * dim);
        let offset = 0;
        for (const c of chunks) {
          all.set(c, offset);
          offset += c.length;
        }
        return { vectors: all, dim };
      };
      const train = await vectorsOf(sample.train);
      const bank = makeBank(train.vectors, sample.train.labels, train.dim, sample.classes.length);
      const val = await vectorsOf(sample.val);
      const summary: KnnProbeSummary = {
        dataset: sample.name,
        trainCount: sample.train.count,
        valCount: sample.val.count,
        valAccuracy: knnAccuracy(bank, val.vectors, sample.val.labels),
        k: KNN_K,
        ms: performance.now() - started,
      };
      s.knn = { bank, classes: sample.classes, summary };
      return summary;
    });
  }

  /**
   * Runs an already-preprocessed NCHW batch and returns every output (scripts, the console,
   * and the end-to-end test that compares the browser's numbers with ml-aim's).
   */
  runBatch(images: Float32Array, dims: number[]) {
    return settle(async () => {
      const s = this.session;
      if (!s) throw new Error('load a model first');
      const { outputs, latencyMs } = await s.model.run(images, dims);
      s.runs++;
      return { outputs, latencyMs, backend: s.model.info.backend };
    });
  }

  /**
   * Pretends the origin may store only `bytes` more (undefined: ask the browser again), to
   * exercise the "not cached, loaded from memory" path without filling a real disk.
   */
  simulateStorageQuota(bytes: number | undefined): void {
    setStorageQuotaOverride(bytes);
  }

  async unload(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.model.release();
  }

  private modelCache() {
    this.cache ??= ModelCache.open();
    return this.cache;
  }

  private fit(estimate: MemoryEstimate, env: InferenceEnvironment, backend: Backend): Fit {
    if (backend === 'webgpu' && !env.limits) return checkFits(estimate, WASM_LIMITS, 'wasm');
    return checkFits(estimate, env.limits ?? WASM_LIMITS, backend);
  }

  private async card(inspection: Inspection, backend: Backend): Promise<ModelCard> {
    const estimate = estimateForPlan(inspection.plan);
    const cache = await this.modelCache();
    return {
      id: inspection.id,
      label: inspection.label,
      source: inspection.source,
      plan: inspection.plan,
      estimate,
      fit: this.fit(estimate, await this.environment(), backend),
      cached: (await cache?.get(inspection.id)) !== undefined,
    };
  }

  private async open(
    files: ModelFiles,
    backend: Backend,
    onProgress?: ProgressListener,
  ): Promise<LoadedModel> {
    await this.unload();
    onProgress?.({ phase: 'session', files: [], totalBytes: 0, doneBytes: 0 });
    const model = await OnnxModelSession.create(files.modelBytes, files.shards, backend);
    this.session = { model, files, runs: 0 };
    const estimate = estimateForPlan(files.plan);
    return {
      id: files.id,
      label: files.label,
      source: files.source,
      plan: files.plan,
      estimate,
      fit: this.fit(estimate, await this.environment(), model.info.backend),
      cached: files.cached,
      cacheNote: files.cacheNote,
      backend: model.info.backend,
      fallbackReason: model.info.fallbackReason,
      createMs: model.info.createMs,
    };
  }
}

/** wasm32 has no per-buffer limit below its heap; the heap bound is checkFits' concern. */
const WASM_LIMITS: AdapterLimitsLike = {
  maxBufferSize: 2 ** 32,
  maxStorageBufferBindingSize: 2 ** 32,
};
