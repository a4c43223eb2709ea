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
