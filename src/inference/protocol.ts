/**
 * What crosses between the page and the inference worker (./api.ts): plain, structured-
 * cloneable data. Errors are thrown, carrying a remedy (src/worker/errorTransfer.ts).
 */
import type { RgbImage } from '../data/dataset';
import type { WeightFormat } from '../onnx/export';
import type { AdapterLimitsLike, Fit, MemoryEstimate } from './memoryPlan';
import type { AimModelPlan } from './modelPlan';
import type { Backend } from './onnxSession';

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

/** Whether our WGSL engine can hold the loaded model on this adapter (./wgslEnginePlan.ts). */
export interface WgslEnginePlanSummary {
  ok: boolean;
  reason?: string;
  /** GPU memory it would allocate (weights as f32), when the model is one it can run. */
  totalBytes?: number;
  largestTensor?: { label: string; bytes: number };
}

/** One engine's side of a comparison (./wgslEngineSession.ts). */
export interface EngineSide {
  top?: { index: number; name: string; probability: number }[];
  latencyMs: number;
  /** Runs on this engine since the model was loaded (the first includes warm-up). */
  run: number;
}

/**
 * The same preprocessed image through onnxruntime-web and through our WGSL kernels, from the
 * same weights; or, when our engine cannot hold the model, why (onnxruntime's side stays).
 */
export interface EngineComparison {
  image: string;
  onnx: EngineSide & { backend: Backend };
  wgsl?: EngineSide & {
    /** Creating the engine (weights read and uploaded, kernels compiled), once per model. */
    createMs?: number;
    /** GPU memory our engine allocated for the model. */
    bytes: number;
    /** Always f32 storage and arithmetic on our engine (no fp16-storage path yet). */
    precision: 'f32';
  };
  /** Why our engine does not run this model, when it does not. */
  refused?: string;
  /** What the two engines were compared on: the probe's logits, else the features. */
  compared: 'logits' | 'features';
  /** Largest |onnxruntime − ours| over the logits (or the features without a probe). */
  maxAbsDiff: number;
  /** Largest |difference| over the features [K, D], for both kinds of model. */
  maxFeatureDiff: number;
  /** The probe's attention-pooling weights for this image, [heads, K] (attentive probes). */
  attention?: { heads: number; weights: Float32Array };
  /** The patch grid and our engine's features [K, D] (for a chosen patch's similarity). */
  grid: { rows: number; cols: number; dim: number };
  features?: Float32Array;
  /** The centre crop both engines saw. */
  input: RgbImage;
}
