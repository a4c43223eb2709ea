/**
 * The checkpoint-conversion worker's API (comlink): inspect dropped checkpoint files, convert
 * them to ONNX into the model cache, cancel. Its own worker, apart from the inference worker,
 * so a conversion of gigabytes (minutes of reading, transposing, quantising) never stalls a
 * loaded model's classifications or the page. Methods throw; the page's promise rejects with
 * the same name, message and remedy (src/worker/errorTransfer.ts).
 */
import type { WeightFormat } from '../onnx/weightEmitter';
import {
  inspectCheckpointFiles,
  type ConvertPlan,
  type OpenedCheckpoint,
  asCheckpointFileError,
  CheckpointFileError,
} from './convertPlan';
import {
  ConversionCancelled,
  convertIntoCache,
  type ConvertProgress,
  type ConvertResult,
} from './convertRun';
import { ModelCache } from './modelCache';
import type { AdapterLimitsLike } from './memoryPlan';

export interface InspectOptions {
  /** Which `*_head_*.pth` to use when several were dropped. */
  head?: string;
  limits?: AdapterLimitsLike;
  backend: 'webgpu' | 'wasm';
}

export class ConvertWorkerApi {
  private opened?: OpenedCheckpoint;
  private running?: OpenedCheckpoint;
  private cache?: Promise<ModelCache | undefined>;

  /** Reads the files' directories and config; plans every format. Nothing is written. */
  async inspect(files: File[], options: InspectOptions): Promise<ConvertPlan> {
    if (this.running) throw new CheckpointFileError('a conversion is running: cancel it first');
    this.opened = undefined;
    const freeBytes = await ModelCache.freeBytes();
    this.opened = await inspectCheckpointFiles(files, { ...options, freeBytes });
    return this.opened.plan;
  }

  /** Converts what the last inspect planned into the cache, reporting progress. */
  async convert(
    format: WeightFormat,
    onProgress?: (progress: ConvertProgress) => void,
  ): Promise<ConvertResult> {
    const opened = this.opened;
    if (!opened) throw new CheckpointFileError('drop a checkpoint first');
    if (this.running) throw new CheckpointFileError('a conversion is already running');
    const formatPlan = opened.plan.formats.find((f) => f.format === format);
    if (!formatPlan) throw new RangeError(`unknown format ${format}`);
    if (formatPlan.storageShort)
      throw new CheckpointFileError(
        `not enough storage: ${formatPlan.storageShort}`,
        'Free space (remove cached models or other site data), or choose a smaller format (int4).',
      );
    const cache = await this.modelCache();
    if (!cache)
      throw new CheckpointFileError(
        'this browser has no origin-private file system to write the converted model to',
        'Use a recent Chrome, Edge or Firefox, or convert with `npm run export` instead.',
      );
    opened.counter.stop = undefined;
    this.running = opened;
    try {
      return await convertIntoCache(
        {
          config: opened.config,
          weights: opened.weights,
          counter: opened.counter,
          label: opened.plan.label,
          sourceKey: opened.sourceKey,
          bytesToRead: opened.plan.bytesToRead,
        },
        format,
        cache,
        onProgress,
      );
    } catch (error) {
      throw asCheckpointFileError(error);
    } finally {
      this.running = undefined;
      opened.counter.stop = undefined;
    }
  }

  /** Stops the running conversion at its next read or write; its folder is deleted. */
  cancel(): void {
    if (this.running) this.running.counter.stop = new ConversionCancelled();
  }

  /** Forgets the inspected files. */
  clear(): void {
    if (!this.running) this.opened = undefined;
  }

  private modelCache() {
    this.cache ??= ModelCache.open();
    return this.cache;
  }
}
