/**
 * The inference worker's API (comlink): plan a model, load it, classify images. It lives in
 * its own worker, apart from training, so a multi-gigabyte session load or a slow wasm run
 * never stalls the page or a training run, and onnxruntime's WebGPU device is its own.
 *
 * Every load is two steps the page shows separately: `inspect…` reads only model.onnx and
 * answers what loading would cost (files, sizes, GPU memory, whether this adapter can hold
 * it); `load` then moves the bytes with progress and creates the session. Methods throw;
 * the page's promise rejects with the same message and remedy (src/worker/errorTransfer.ts).
 * The classify pipeline is ./classify.ts; the messages' types are ./protocol.ts.
 */
import { PRESETS } from '../model/config';
import type { LabelledSample } from '../worker/protocol';
import { classifyImage, fitKnnProbe, loadedSession, type SessionSlot } from './classify';
import { ModelCache, type CachedModelEntry } from './modelCache';
import { ModelFileError } from './modelPlan';
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
import type {
  Classification,
  EngineComparison,
  InferenceEnvironment,
  KnnProbeSummary,
  LoadedModel,
  ModelCard,
  PresetPlan,
  WgslEnginePlanSummary,
} from './protocol';
import { exportRunModel } from './runExport';
import { WgslEngineSession } from './wgslEngineSession';

export class InferenceWorkerApi {
  private env?: Promise<InferenceEnvironment>;
  private cache?: Promise<ModelCache | undefined>;
  private pending?: { inspection: Inspection; localShards?: Map<string, Blob> };

  /** `loaded` and `engines` are shared with the test build's diagnostics (src/diagnostics/). */
  constructor(
    private readonly loaded: SessionSlot = {},
    private readonly engines = new WgslEngineSession(),
  ) {}

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

  async listCached(): Promise<CachedModelEntry[]> {
    return (await this.modelCache())?.list() ?? [];
  }

  async removeCached(id: string): Promise<void> {
    if (this.loaded.session?.files.id === id) await this.unload();
    await (await this.modelCache())?.remove(id);
  }

  async inspectUrl(url: string, backend: Backend = 'webgpu'): Promise<ModelCard> {
    const inspection = await inspectUrl(url, self.location.href);
    this.pending = { inspection };
    return this.card(inspection, backend);
  }

  async inspectFiles(files: File[], backend: Backend = 'webgpu'): Promise<ModelCard> {
    const { inspection, shards } = await inspectFiles(files);
    this.pending = { inspection, localShards: shards };
    return this.card(inspection, backend);
  }

  /** Loads what the last inspect… call planned. */
  async loadPending(backend: Backend, onProgress?: ProgressListener): Promise<LoadedModel> {
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
  }

  async loadCached(
    id: string,
    backend: Backend,
    onProgress?: ProgressListener,
  ): Promise<LoadedModel> {
    const cache = await this.modelCache();
    if (!cache) throw new Error('this browser has no model cache');
    const files = await openCached(cache, id);
    const fit = this.fit(estimateForPlan(files.plan), await this.environment(), backend);
    if (!fit.ok) throw new ModelFileError(fit.reason);
    return this.open(files, backend, onProgress);
  }

  /** Exports a training run's checkpoint to ONNX here, caches and loads it. */
  async loadRun(
    checkpoint: Uint8Array,
    run: { runId: string; label: string },
    backend: Backend,
    onProgress?: ProgressListener,
  ): Promise<LoadedModel> {
    const files = await exportRunModel(
      checkpoint,
      run,
      await this.modelCache(),
      'fp32',
      onProgress,
    );
    return this.open(files, backend, onProgress);
  }

  /** Classifies one image file with the loaded model (./classify.ts). */
  async classify(image: Blob, name: string): Promise<Classification> {
    return classifyImage(loadedSession(this.loaded), image, name);
  }

  /** Fits the k-NN probe for a model without a classifier (./classify.ts). */
  async fitKnnProbe(
    sample: LabelledSample,
    onProgress?: (embedded: number, total: number) => void,
  ): Promise<KnnProbeSummary> {
    return fitKnnProbe(loadedSession(this.loaded), sample, onProgress);
  }

  /** Whether our WGSL engine can hold the loaded model on this adapter (no allocation). */
  async wgslEnginePlan(): Promise<WgslEnginePlanSummary> {
    const limits = (await this.environment()).limits;
    if (!limits) return { ok: false, reason: 'our WGSL engine needs WebGPU, which is unavailable' };
    return this.engines.plan(loadedSession(this.loaded), limits);
  }

  /** One image through onnxruntime and our WGSL kernels, compared (./wgslEngineSession.ts). */
  async compareEngines(image: Blob, name: string): Promise<EngineComparison> {
    return this.engines.compare(loadedSession(this.loaded), image, name);
  }

  async unload(): Promise<void> {
    this.engines.release();
    const s = this.loaded.session;
    this.loaded.session = undefined;
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
    this.loaded.session = { model, files, runs: 0 };
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
