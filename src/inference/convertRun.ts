/**
 * One checkpoint → ONNX conversion in the browser, straight into the model cache: the
 * existing exporter (src/onnx/export.ts) reads one tensor at a time from the dropped files
 * and writes each external-data shard into an OPFS folder as it is produced; the folder
 * counts as cached only when its entry is committed, after the written model has been read
 * back, planned and its shards checked. Cancel, an error or a full disk delete the folder, so
 * the cache is left as it was: a conversion writes a new folder under a fresh id, and an
 * earlier conversion of the same files in the same format is removed only once the new one is
 * committed.
 *
 * While it writes, the conversion holds the folder's Web Lock (modelCache.ts
 * cacheWriteLockName): the inference worker lists the cache meanwhile and would otherwise
 * take the unfinished folder for one a closed tab left behind.
 */
import type { AimOnnxConfig, WeightSource } from '../onnx/checkpoint';
import { exportAimOnnx } from '../onnx/export';
import { newExportId, type DataSink, type FileSink } from '../onnx/externalData';
import { releaseArray, type WeightFormat } from '../onnx/weightEmitter';
import { cacheWriteLockName, type CachedModelEntry, type ModelCache } from './modelCache';
import { planAimModel } from './modelPlan';
import { verifyShards } from './modelSources';
import type { ReadCounter } from './convertPlan';

export class ConversionCancelled extends Error {
  override readonly name = 'ConversionCancelled';
  constructor() {
    super('the conversion was cancelled; nothing was cached');
  }
}

export interface ConvertProgress {
  phase: 'converting' | 'checking' | 'done';
  bytesRead: number;
  /** 0 when the weights are generated rather than read (random-weight benchmarks). */
  bytesToRead: number;
  tensorsDone: number;
  tensorsTotal: number;
  bytesWritten: number;
  elapsedMs: number;
  /** Remaining time, once enough is done to say. */
  etaMs?: number;
  tensor?: string;
}

export interface ConvertResult {
  entry: CachedModelEntry;
  ms: number;
  /** Cache ids of earlier conversions of the same files and format, now replaced. */
  replaced: string[];
}

export interface ConvertSource {
  config: AimOnnxConfig;
  weights: WeightSource;
  /** Counts the bytes the dropped files gave; its `stop` cancels the next read. */
  counter: ReadCounter;
  label: string;
  sourceKey: string;
  bytesToRead: number;
}

/**
 * Wraps a sink so each write counts its bytes and a cancel stops the next write; `closeOpen`
 * closes files left open by an error or a cancel (an open writable keeps its file from being
 * deleted with the folder).
 */
function countingSink(
  sink: DataSink,
  counter: ReadCounter,
  onBytes: (n: number) => void,
): DataSink & { closeOpen(): Promise<void> } {
  const open = new Set<FileSink>();
  return {
    async create(name) {
      if (counter.stop) throw counter.stop;
      const file = await sink.create(name);
      open.add(file);
      return {
        async write(bytes) {
          if (counter.stop) throw counter.stop;
          await file.write(bytes);
          onBytes(bytes.byteLength);
        },
        close: async () => {
          open.delete(file);
          await file.close();
        },
      };
    },
    async closeOpen() {
      for (const file of open) await file.close().catch(() => undefined);
      open.clear();
    },
  };
}

/** Tensors of at least this many bytes are freed by releasingWeights when the next is read. */
const RELEASE_BYTES = 1 << 20;

/**
 * The weights, each large tensor's memory freed when the exporter asks for the next large
 * one, before that is read: the exporter reads each tensor once and has written a Linear or
 * parameter before it reads the next (only small tensors — BatchNorm statistics, the probe's
 * query — are held together), so at most one large source tensor is alive at a time. Every
 * array a WeightSource here returns is its own (a Blob read, a widened copy, a generated
 * tensor), so nothing else sees the freed buffer.
 */
function releasingWeights(weights: WeightSource): WeightSource {
  let held: Float32Array | undefined;
  const bytesOf = (name: string) => 4 * weights.info(name).shape.reduce((a, b) => a * b, 1);
  return {
    names: weights.names,
    has: (name) => weights.has(name),
    info: (name) => weights.info(name),
    async readFloat32(name) {
      const large = bytesOf(name) >= RELEASE_BYTES;
      if (large && held) {
        releaseArray(held);
        held = undefined;
      }
      const data = await weights.readFloat32(name);
      if (large) held = data;
      return data;
    },
  };
}

/** A short digest of the dropped files' names, sizes and dates, for the entry's source. */
async function keyDigest(key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
  return [...new Uint8Array(digest).subarray(0, 8)]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
}

/** Runs `work` holding the cache folder's write lock (where the browser has Web Locks). */
function holdingWriteLock<T>(id: string, work: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return work();
  return locks.request(cacheWriteLockName(id), work) as Promise<T>;
}

export async function convertIntoCache(
  source: ConvertSource,
  format: WeightFormat,
  cache: ModelCache,
  onProgress?: (progress: ConvertProgress) => void,
  options: { maxShardBytes?: number; progressEveryMs?: number } = {},
): Promise<ConvertResult> {
  const { counter } = source;
  const exportId = newExportId();
  const id = `convert-${exportId.slice(0, 20)}`;
  const origin = `convert:${format}:${await keyDigest(source.sourceKey)}`;
  const started = performance.now();
  const readAtStart = counter.bytes;
  const progress: ConvertProgress = {
    phase: 'converting',
    bytesRead: 0,
    bytesToRead: source.bytesToRead,
    tensorsDone: 0,
    tensorsTotal: 0,
    bytesWritten: 0,
    elapsedMs: 0,
  };
  let lastSent = -Infinity;
  const every = options.progressEveryMs ?? 250;
  const emit = (force = false) => {
    const now = performance.now();
    if (!force && now - lastSent < every) return;
    lastSent = now;
    progress.bytesRead = counter.bytes - readAtStart;
    progress.elapsedMs = now - started;
    const fraction =
      progress.bytesToRead > 0
        ? progress.bytesRead / progress.bytesToRead
        : progress.tensorsDone / Math.max(1, progress.tensorsTotal);
    progress.etaMs =
      fraction > 0.01 && progress.elapsedMs > 1000
        ? (progress.elapsedMs * (1 - fraction)) / fraction
        : undefined;
    onProgress?.({ ...progress });
  };
  emit(true);

  return holdingWriteLock(id, async () => {
    const writer = await cache.begin(id);
    const sink = countingSink(writer, counter, (n) => {
      progress.bytesWritten += n;
    });
    try {
      const result = await exportAimOnnx(
        { config: source.config, weights: releasingWeights(source.weights) },
        sink,
        {
          format,
          exportId,
          maxShardBytes: options.maxShardBytes,
          onTensor: (name, done, total) => {
            if (counter.stop) throw counter.stop;
            progress.tensor = name;
            progress.tensorsDone = done;
            progress.tensorsTotal = total;
            emit(done === total);
          },
        },
      );
      progress.phase = 'checking';
      emit(true);
      // Read back what was written: the same checks as a download before the entry counts.
      const modelBytes = new Uint8Array(await (await writer.file(result.modelFile)).arrayBuffer());
      const plan = planAimModel(modelBytes, result.modelFile);
      const shards = new Map<string, Blob>();
      for (const s of plan.shards) shards.set(s.name, await writer.file(s.name));
      await verifyShards(plan, shards);
      if (counter.stop) throw counter.stop;
      const entry = await writer.commit({
        label: `${source.label} · ${format} · converted here`,
        source: origin,
        modelFileName: result.modelFile,
      });
      const replaced: string[] = [];
      for (const e of await cache.list()) {
        if (e.source === origin && e.id !== id) {
          await cache.remove(e.id);
          replaced.push(e.id);
        }
      }
      progress.phase = 'done';
      emit(true);
      return { entry, ms: performance.now() - started, replaced };
    } catch (error) {
      await sink.closeOpen();
      await writer.abort().catch(() => undefined);
      throw error;
    }
  });
}
