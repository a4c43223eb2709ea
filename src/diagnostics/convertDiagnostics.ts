/**
 * The conversion worker's diagnostics API (test build only, see ./channel.ts): the same
 * conversion the Inference tab runs on dropped files — exporter, OPFS cache writer, commit —
 * driven from seeded random weights of a paper model's shape (src/onnx/randomWeights.ts), so
 * a benchmark times it and samples the worker's heap (over CDP, from outside) at the 600M
 * and 7B shapes without 26 GB of downloads; and a pretended storage quota.
 */
import * as Comlink from 'comlink';
import { expectedTensors, featureModeOf } from '../onnx/aimTensors';
import { parseAimConfig } from '../onnx/checkpoint';
import { isPaperPreset, paperPresetConfig, randomAimWeights } from '../onnx/randomWeights';
import type { WeightFormat } from '../onnx/weightEmitter';
import { ReadCounter } from '../inference/convertPlan';
import { convertIntoCache, type ConvertProgress } from '../inference/convertRun';
import { ModelCache, setStorageQuotaOverride } from '../inference/modelCache';

export interface RandomConversion {
  ms: number;
  tensors: number;
  bytesWritten: number;
  largestTensor: { name: string; bytes: number };
  blocks: number;
  files: { name: string; bytes: number }[];
}

export class ConvertDiagnosticsApi {
  /**
   * Converts random weights of `shape` (a paper preset name, or an ml-aim config.json
   * object: e.g. the 7B's widths with fewer probe layers) to `format` into the cache, then
   * removes the entry unless `keep`.
   */
  async convertRandom(
    shape: string | Record<string, unknown>,
    format: WeightFormat,
    options: { seed?: number; keep?: boolean } = {},
  ): Promise<RandomConversion> {
    const config =
      typeof shape === 'string'
        ? isPaperPreset(shape)
          ? paperPresetConfig(shape)
          : (() => {
              throw new RangeError(`unknown preset ${shape}`);
            })()
        : parseAimConfig(shape);
    const weights = randomAimWeights(config, options.seed ?? 0);
    const cache = await ModelCache.open();
    if (!cache) throw new Error('no OPFS in this browser');
    const expected = expectedTensors(config, weights, featureModeOf(config, weights));
    const largest = expected.reduce(
      (m, e) => {
        const bytes = 4 * e.shape.reduce((a, b) => a * b, 1);
        return bytes > m.bytes ? { name: e.name, bytes } : m;
      },
      { name: '', bytes: 0 },
    );
    let last: ConvertProgress | undefined;
    const result = await convertIntoCache(
      {
        config,
        weights,
        counter: new ReadCounter(),
        label: `random ${typeof shape === 'string' ? shape : 'config'}`,
        sourceKey: `random:${JSON.stringify(config)}:${options.seed ?? 0}`,
        bytesToRead: 0,
      },
      format,
      cache,
      (p) => {
        last = p;
      },
    );
    if (!options.keep) await cache.remove(result.entry.id);
    return {
      ms: result.ms,
      tensors: last?.tensorsDone ?? 0,
      bytesWritten: last?.bytesWritten ?? 0,
      largestTensor: largest,
      blocks: Math.max(...config.probeLayers) + 1,
      files: result.entry.files,
    };
  }

  /** Make the cache see only `bytes` free (undefined: ask the browser again). */
  simulateStorageQuota(bytes: number | undefined): void {
    setStorageQuotaOverride(bytes);
  }
}

export function exposer(): (port: MessagePort) => void {
  const api = new ConvertDiagnosticsApi();
  return (port) => Comlink.expose(api, port);
}
