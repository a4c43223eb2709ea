/**
 * The Inference tab's state: what the inference worker says about this browser, the model
 * being inspected or loaded, load progress, and the last classification. Every action goes
 * through the inference worker (src/inference/api.ts), whose calls throw; each action catches
 * and keeps the error here for ErrorNotice, so a bad file never breaks the page.
 */
import { create } from 'zustand';
import { Comlink, inferenceApi } from '../inference/client';
import type { CachedModelEntry } from '../inference/modelCache';
import type { LoadProgress } from '../inference/modelSources';
import type { Backend } from '../inference/onnxSession';
import type {
  Classification,
  EngineComparison,
  InferenceEnvironment,
  KnnProbeSummary,
  LoadedModel,
  ModelCard,
  PresetPlan,
  WgslEnginePlanSummary,
} from '../inference/protocol';
import { workerApi } from '../worker/client';
import { serializeError, type SerializedError } from '../worker/protocol';
import { useRuns } from './runsStore';

export type InferenceBusy = 'inspecting' | 'loading' | 'classifying' | undefined;

export interface InferenceState {
  env?: InferenceEnvironment;
  presets: PresetPlan[];
  cached: CachedModelEntry[];
  backend: Backend;
  /** Planned but not loaded yet (inspect first, then load). */
  card?: ModelCard;
  loaded?: LoadedModel;
  progress?: LoadProgress;
  busy: InferenceBusy;
  error?: SerializedError;
  result?: Classification & { imageName: string };
  /** Every classification's latency since the model was loaded (run 1 compiles the shaders). */
  latencies: { run: number; ms: number }[];
  /** The k-NN probe fitted for a run's checkpoint (which has no classification head). */
  knn?: KnnProbeSummary;
  knnState?: 'fitting' | SerializedError;
  /** While fitting: images embedded of the bank and held-out images together. */
  knnProgress?: { embedded: number; total: number };
  classifyError?: SerializedError;
  init: () => Promise<void>;
  /** Lists the cache again (a model converted in the conversion worker just arrived). */
  refreshCached: () => Promise<void>;
  setBackend: (backend: Backend) => void;
  inspectUrl: (url: string) => Promise<void>;
  inspectFiles: (files: File[]) => Promise<void>;
  loadInspected: () => Promise<void>;
  loadCached: (id: string) => Promise<void>;
  removeCached: (id: string) => Promise<void>;
  loadRun: (runId: string, label: string) => Promise<void>;
  classify: (image: Blob, name: string) => Promise<void>;
  // The second engine (issue 16): our WGSL kernels beside onnxruntime, on request.
  /** Run every classified image on our engine too, and compare. */
  secondEngine: boolean;
  engineBusy: boolean;
  comparison?: EngineComparison;
  /**
   * Our engine's latencies since the model was loaded, as `latencies` are onnxruntime's (run 1
   * follows creating the engine; onnxruntime's runs inside comparisons are steady runs).
   */
  wgslLatencies: { run: number; ms: number }[];
  engineError?: SerializedError;
  /** The last image classified, so turning the second engine on compares it at once. */
  lastImage?: { image: Blob; name: string };
  /** Whether our engine can hold the loaded model, planned without allocating. */
  enginePlan?: WgslEnginePlanSummary & { modelId: string };
  planEngine: () => Promise<void>;
  setSecondEngine: (on: boolean) => Promise<void>;
  compareEngines: (image: Blob, name: string) => Promise<void>;
}

const NO_ENGINE_RESULTS = {
  comparison: undefined,
  wgslLatencies: [],
  engineError: undefined,
  lastImage: undefined,
};

export const useInference = create<InferenceState>((set, get) => {
  // The list is advisory: when the cache cannot be listed the last list stays, and the load
  // or removal that asked for the refresh reports its own error.
  const refreshCached = async () => {
    const cached = await inferenceApi()
      .listCached()
      .catch(() => undefined);
    if (cached) set({ cached });
  };
  const onProgress = Comlink.proxy((progress: LoadProgress) => set({ progress }));

  /** One load at a time; the result (or the error) replaces the last one. */
  const loading = async (work: () => Promise<LoadedModel>) => {
    if (get().busy) return;
    set({
      busy: 'loading',
      error: undefined,
      progress: undefined,
      result: undefined,
      latencies: [],
      knn: undefined,
      knnState: undefined,
      knnProgress: undefined,
      ...NO_ENGINE_RESULTS,
    });
    try {
      const loaded = await work();
      set({ loaded, card: undefined });
    } catch (error) {
      set({ error: serializeError(error), loaded: undefined });
    } finally {
      set({ busy: undefined, progress: undefined });
      await refreshCached();
    }
  };

  return {
    presets: [],
    cached: [],
    latencies: [],
    backend: 'webgpu',
    busy: undefined,
    refreshCached,
    init: async () => {
      const api = inferenceApi();
      const env = await api.environment();
      const backend = env.webgpuUnavailable ? 'wasm' : get().backend;
      set({ env, backend, presets: await api.presetPlans(backend) });
      await refreshCached();
    },
    setBackend: (backend) => {
      set({ backend });
      void inferenceApi()
        .presetPlans(backend)
        .then((presets) => set({ presets }));
    },
    inspectUrl: async (url) => {
      set({ busy: 'inspecting', error: undefined, card: undefined });
      try {
        set({ card: await inferenceApi().inspectUrl(url, get().backend) });
      } catch (error) {
        set({ error: serializeError(error) });
      } finally {
        set({ busy: undefined });
      }
    },
    inspectFiles: async (files) => {
      set({ busy: 'inspecting', error: undefined, card: undefined });
      try {
        set({ card: await inferenceApi().inspectFiles(files, get().backend) });
      } catch (error) {
        set({ error: serializeError(error) });
      } finally {
        set({ busy: undefined });
      }
    },
    loadInspected: () => loading(() => inferenceApi().loadPending(get().backend, onProgress)),
    loadCached: (id) => loading(() => inferenceApi().loadCached(id, get().backend, onProgress)),
    removeCached: async (id) => {
      try {
        await inferenceApi().removeCached(id);
      } catch (error) {
        set({ error: serializeError(error) });
      }
      if (get().loaded?.id === id) set({ loaded: undefined, result: undefined });
      await refreshCached();
    },
    loadRun: async (runId, label) => {
      await loading(async () => {
        const checkpoint = await workerApi().savedCheckpoint(runId);
        if (!checkpoint)
          throw Object.assign(new Error(`run ${label} has no checkpoint in this browser yet`), {
            remedy: 'Train it until a checkpoint is saved (or pause it), then try again.',
          });
        return inferenceApi().loadRun(
          Comlink.transfer(checkpoint, [checkpoint.buffer]),
          { runId, label },
          get().backend,
          onProgress,
        );
      });
      // A pre-training checkpoint has no classifier: fit a k-NN probe on the run's own
      // labelled data so the model can still classify, and say how well it does.
      const loaded = get().loaded;
      const record = useRuns.getState().records[runId];
      if (!loaded || loaded.plan.logits || !record) return;
      set({ knnState: 'fitting', knnProgress: undefined });
      try {
        const sample = await workerApi().labelledSample(record.dataset, 1000, 200);
        const knn = await inferenceApi().fitKnnProbe(
          sample,
          Comlink.proxy((embedded: number, total: number) =>
            set({ knnProgress: { embedded, total } }),
          ),
        );
        set({ knn, knnState: undefined, knnProgress: undefined });
      } catch (error) {
        set({ knnState: serializeError(error) });
      }
    },
    classify: async (image, name) => {
      if (get().busy) return;
      set({ busy: 'classifying', classifyError: undefined });
      try {
        const result = await inferenceApi().classify(image, name);
        set({
          result: { ...result, imageName: name },
          latencies: [...get().latencies, { run: result.run, ms: result.latencyMs }],
          lastImage: { image, name },
        });
      } catch (error) {
        set({ classifyError: serializeError(error) });
      } finally {
        set({ busy: undefined });
      }
      if (get().secondEngine && get().lastImage?.image === image)
        await get().compareEngines(image, name);
    },
    secondEngine: false,
    engineBusy: false,
    wgslLatencies: [],
    planEngine: async () => {
      const id = get().loaded?.id;
      if (!id || get().enginePlan?.modelId === id) return;
      try {
        const plan = await inferenceApi().wgslEnginePlan();
        if (get().loaded?.id === id) set({ enginePlan: { ...plan, modelId: id } });
      } catch (error) {
        set({ engineError: serializeError(error) });
      }
    },
    setSecondEngine: async (on) => {
      set({ secondEngine: on });
      const last = get().lastImage;
      if (on && last && get().comparison?.image !== last.name)
        await get().compareEngines(last.image, last.name);
    },
    compareEngines: async (image, name) => {
      if (get().engineBusy || !get().loaded) return;
      set({ engineBusy: true, engineError: undefined });
      try {
        const comparison = await inferenceApi().compareEngines(image, name);
        const { wgsl } = comparison;
        set({
          comparison,
          wgslLatencies: wgsl
            ? [...get().wgslLatencies, { run: wgsl.run, ms: wgsl.latencyMs }]
            : get().wgslLatencies,
        });
      } catch (error) {
        set({ engineError: serializeError(error) });
      } finally {
        set({ engineBusy: false });
      }
    },
  };
});
