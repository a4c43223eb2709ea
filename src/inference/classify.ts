/**
 * The classify pipeline of a loaded model: an image file → ml-aim's preprocessing → one
 * onnxruntime run → top-5 (from the probe head, or the k-NN probe for a model without one)
 * and the PCA picture of the patch features; and fitting that k-NN probe on labelled images.
 */
import { decodeImageInBrowser } from '../data/decodeBrowser';
import { imageAt, type RgbImage, type RgbImages } from '../data/dataset';
import { rgbaToRgb } from '../data/folderImages';
import type { LabelledSample } from '../worker/protocol';
import { featurePcaImage } from './featurePca';
import { classNameFor } from './imagenetClasses';
import {
  KNN_K,
  knnAccuracy,
  knnScores,
  makeBank,
  pooledUnitVectors,
  type KnnBank,
} from './knnProbe';
import type { ModelFiles } from './modelSources';
import type { OnnxModelSession } from './onnxSession';
import { preprocessForAim, type AimInput } from './preprocess';
import type { Classification, KnnProbeSummary } from './protocol';
import { rankScores, topK } from './topK';

/** Images per onnxruntime run while fitting the k-NN probe. */
const KNN_BATCH = 32;

/** The model the worker holds, with what has been learnt about it since it was loaded. */
/** The picture to classify is not an image the browser can decode: the user's file, not the model. */
export class ImageFileError extends Error {
  override readonly name = 'ImageFileError';
  constructor(
    message: string,
    readonly remedy: string,
  ) {
    super(message);
  }
}

export interface LoadedSession {
  model: OnnxModelSession;
  files: ModelFiles;
  runs: number;
  knn?: { bank: KnnBank; classes: readonly string[]; summary: KnnProbeSummary };
}

/** Where the worker keeps its one loaded session (shared with the test build's diagnostics). */
export interface SessionSlot {
  session?: LoadedSession;
}

export function loadedSession(slot: SessionSlot): LoadedSession {
  if (!slot.session) throw new Error('load a model first');
  return slot.session;
}

/**
 * The one evaluation preprocessing of this session's model: ml-aim's transform to the
 * model's input size. A picture to classify and the k-NN probe's bank and held-out images
 * all go through it, so the probe is measured on what a classified picture sees.
 */
export function modelInput(s: LoadedSession, image: RgbImage): AimInput {
  return preprocessForAim(image, s.files.plan.input.height);
}

export async function classifyImage(
  s: LoadedSession,
  image: Blob,
  name: string,
): Promise<Classification> {
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
  const crop = plan.input.height;
  const { tensor, cropped } = modelInput(s, rgbaToRgb(decoded));
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
      name: plan.classNames?.[t.index] ?? classNameFor(t.index, logits.dims[1]),
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
}

/**
 * Fits the k-NN probe (./knnProbe.ts) on labelled images, each put through modelInput as a
 * picture to classify is, measures its top-1 accuracy on the held-out ones (preprocessed the
 * same way), and keeps it with the session for later classifications.
 */
export async function fitKnnProbe(
  s: LoadedSession,
  sample: LabelledSample,
  onProgress?: (embedded: number, total: number) => void,
): Promise<KnnProbeSummary> {
  const started = performance.now();
  // Images embedded so far, bank and held-out together (the fit took 38–80 s without a word).
  const total = sample.train.count + sample.val.count;
  let embedded = 0;
  onProgress?.(0, total);
  const size = s.files.plan.input.height;
  const per = 3 * size * size;
  const vectorsOf = async (part: RgbImages) => {
    const chunks: Float64Array[] = [];
    let dim = 0;
    for (let at = 0; at < part.count; at += KNN_BATCH) {
      const n = Math.min(KNN_BATCH, part.count - at);
      const images = new Float32Array(n * per);
      for (let k = 0; k < n; k++) images.set(modelInput(s, imageAt(part, at + k)).tensor, k * per);
      const { outputs } = await s.model.run(images, [n, 3, size, size]);
      const f = outputs.features;
      if (!f) throw new Error('the model returned no features');
      dim = f.dims[2];
      chunks.push(pooledUnitVectors(f.data, n, f.dims[1], dim));
      embedded += n;
      onProgress?.(embedded, total);
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
}
