/**
 * A model trained in this tab, to ONNX, in the browser: the run's checkpoint (safetensors
 * with ml-aim key names and its config embedded, src/training/checkpoint.ts) goes through the
 * same exporter as `npm run export` and streams straight into the model cache (or memory when
 * the quota is short), then loads like any other model directory.
 */
import { blobByteSource } from '../onnx/byteSource';
import { openWeights, parseAimConfig } from '../onnx/checkpoint';
import { exportAimOnnx, type WeightFormat } from '../onnx/export';
import { memoryDataSink } from '../onnx/externalData';
import { CacheFullError, type ModelCache } from './modelCache';
import { planAimModel } from './modelPlan';
import {
  chooseDestination,
  modelId,
  verifyShards,
  type ModelFiles,
  type ProgressListener,
} from './modelSources';

export async function exportRunModel(
  checkpoint: Uint8Array,
  run: { runId: string; label: string },
  cache: ModelCache | undefined,
  format: WeightFormat = 'fp32',
  onProgress?: ProgressListener,
): Promise<ModelFiles> {
  const opened = await openWeights([
    blobByteSource(new Blob([checkpoint as Uint8Array<ArrayBuffer>]), 'checkpoint.safetensors'),
  ]);
  if (!opened.embeddedConfig) {
    throw new Error('this checkpoint carries no model config, so it cannot be exported');
  }
  const config = parseAimConfig(opened.embeddedConfig);
  // A checkpoint has one identity per run, step and format: re-exporting the same step
  // replaces the cached copy instead of adding another.
  const id = `run-${run.runId}-${format}`;
  const approxBytes = checkpoint.byteLength; // weights + AdamW state: an upper bound for fp32
  let dest = await chooseDestination(cache, id, approxBytes);
  const report = (name: string, done: number, total: number) =>
    onProgress?.({
      phase: 'export',
      files: [{ name, bytes: total, done }],
      totalBytes: total,
      doneBytes: done,
    });
  for (;;) {
    const memory = dest.writer ? undefined : memoryDataSink();
    const sink = dest.writer ?? memory!;
    try {
      const result = await exportAimOnnx({ config, weights: opened.weights }, sink, {
        format,
        exportId: `${run.runId}-${format}-${Date.now()}`.slice(0, 48),
        onTensor: (name, done, total) => report(name, done, total),
      });
      const fileBlob = async (name: string): Promise<Blob> =>
        dest.writer
          ? dest.writer.file(name)
          : new Blob([memory!.files.get(name)! as Uint8Array<ArrayBuffer>]);
      const modelBytes = new Uint8Array(await (await fileBlob(result.modelFile)).arrayBuffer());
      const plan = planAimModel(modelBytes, result.modelFile);
      const shards = new Map<string, Blob>();
      for (const s of plan.shards) shards.set(s.name, await fileBlob(s.name));
      await verifyShards(plan, shards);
      const label = `${run.label} (${format}, exported in this tab)`;
      if (dest.writer) {
        await dest.writer.commit({
          label,
          source: `run:${run.runId}`,
          modelFileName: result.modelFile,
        });
      }
      return {
        id: dest.writer ? id : await modelId(modelBytes),
        label,
        source: `run:${run.runId}`,
        modelBytes,
        plan,
        shards,
        cached: dest.writer !== undefined,
        cacheNote: dest.cacheNote,
      };
    } catch (error) {
      await dest.writer?.abort().catch(() => undefined);
      if (error instanceof CacheFullError && dest.writer) {
        dest = {
          cacheNote:
            'Not cached: the browser ran out of storage while saving the export; it was ' +
            'exported into memory instead.',
        };
        continue;
      }
      throw error;
    }
  }
}
