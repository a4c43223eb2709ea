/**
 * Where an ONNX model directory comes from — a URL, the user's disk, the cache, or a training
 * run exported in the tab — and how its files reach a place onnxruntime can read them from.
 *
 * Order of work, so a bad model fails before gigabytes move: read `model.onnx` (small: the
 * weights are external), plan it (src/inference/modelPlan.ts: AIM-shaped? which shards, how
 * big?), check the plan against the adapter, then move the shards. Every byte is counted
 * against a total known up front (the plan's sizes), per file and overall.
 *
 * Shards go to the OPFS cache when the origin's quota has room (then onnxruntime reads the
 * cached Files lazily, one tensor at a time); otherwise they stay as Blobs in memory and the
 * page says why. A quota error mid-download drops the half-written cache folder and starts
 * that model again in memory. Shards are checked (size, export tag) before a cache entry is
 * committed, so nothing truncated or mismatched is ever cached.
 */
import { SHARD_TAG_BYTES } from '../onnx/externalData';
import { formatBytes } from '../util/format';
import { CacheFullError, ModelCache, type CacheWriter } from './modelCache';
import { checkShardFiles, ModelFileError, planAimModel, type AimModelPlan } from './modelPlan';

export interface FileProgress {
  name: string;
  bytes: number;
  done: number;
}

export interface LoadProgress {
  phase: 'download' | 'copy' | 'export' | 'session';
  files: FileProgress[];
  totalBytes: number;
  doneBytes: number;
}

export type ProgressListener = (progress: LoadProgress) => void;

/** A model directory ready for onnxruntime: the .onnx bytes and each shard as a Blob. */
export interface ModelFiles {
  id: string;
  label: string;
  source: string;
  modelBytes: Uint8Array;
  plan: AimModelPlan;
  shards: Map<string, Blob>;
  /** True when the files now live in the OPFS cache. */
  cached: boolean;
  /** Said to the user when the model could not be cached. */
  cacheNote?: string;
}

/** A model's identity: the SHA-256 of its .onnx bytes (which carry the export id). */
export async function modelId(modelBytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', modelBytes as Uint8Array<ArrayBuffer>),
  );
  return [...digest.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** `https://host/dir/` → `https://host/dir/model.onnx`; a URL to a .onnx file stays. */
export function modelUrlOf(input: string, base: string): URL {
  let url: URL;
  try {
    url = new URL(input.trim(), base);
  } catch {
    throw new ModelFileError(`${JSON.stringify(input)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ModelFileError(`only http(s) URLs can be loaded, not ${url.protocol}`);
  }
  if (url.pathname.endsWith('/')) url.pathname += 'model.onnx';
  return url;
}

export async function fetchOk(url: URL | string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { mode: 'cors', credentials: 'omit' });
  } catch (error) {
    throw new ModelFileError(whyFetchFailed(url, error));
  }
  if (!response.ok) {
    throw new ModelFileError(`${String(url)} answered ${response.status} ${response.statusText}`);
  }
  // Model files are never web pages; a single-page app's server answers any unknown path
  // with its own index.html (status 200), which would otherwise be blamed on the model.
  if (/^text\/html\b/i.test(response.headers.get('content-type') ?? '')) {
    void response.body?.cancel();
    throw new ModelFileError(
      `${String(url)} answered with a web page, not a model file: there is probably no file at this address. Check the URL (a directory URL must end in /, and hold model.onnx).`,
    );
  }
  return response;
}

/**
 * A failed fetch says only "Failed to fetch", whether the host did not answer or refused to
 * let this page read its files (CORS). The page is cross-origin isolated (COEP require-corp),
 * which also blocks an opaque no-cors probe, so the two cannot be told apart from here: say
 * both, and how the user tells them apart. A same-origin URL has no CORS: the server is down.
 */
function whyFetchFailed(url: URL | string, error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error);
  const sameOrigin = new URL(String(url), self.location.href).origin === self.location.origin;
  if (sameOrigin)
    return `could not fetch ${String(url)} (${detail}): the server did not answer. Check that it is still running.`;
  return (
    `could not fetch ${String(url)} (${detail}): either the host did not answer (check the ` +
    'address and your connection), or it answered but does not let other sites read its files ' +
    '(it must send Access-Control-Allow-Origin, CORS). Open the URL in a new tab: if the file ' +
    'downloads, the host is up and CORS is what is missing.'
  );
}

/** The first bytes of a Blob (a shard's tag). */
async function headOf(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.slice(0, SHARD_TAG_BYTES).arrayBuffer());
}

/** Throws ModelFileError when the shard set is incomplete, truncated or mismatched. */
export async function verifyShards(plan: AimModelPlan, shards: ReadonlyMap<string, Blob>) {
  const provided = await Promise.all(
    [...shards].map(async ([name, blob]) => ({ name, size: blob.size, head: await headOf(blob) })),
  );
  checkShardFiles(plan, provided);
}

class Progress {
  readonly files: FileProgress[];
  constructor(
    plan: AimModelPlan,
    private readonly phase: LoadProgress['phase'],
    private readonly listener?: ProgressListener,
  ) {
    this.files = [
      { name: plan.modelFileName, bytes: plan.modelBytes, done: plan.modelBytes },
      ...plan.shards.map((s) => ({
        name: s.name,
        bytes: s.expectedBytes ?? s.requiredBytes,
        done: 0,
      })),
    ];
  }
  set(name: string, done: number) {
    const file = this.files.find((f) => f.name === name);
    if (file) file.done = done;
    this.emit();
  }
  emit() {
    const totalBytes = this.files.reduce((a, f) => a + f.bytes, 0);
    const doneBytes = this.files.reduce((a, f) => a + Math.min(f.done, f.bytes), 0);
    this.listener?.({
      phase: this.phase,
      files: this.files.map((f) => ({ ...f })),
      totalBytes,
      doneBytes,
    });
  }
}

/** Copies a stream into a sink file, counting bytes; returns the byte count. */
async function pump(
  body: ReadableStream<Uint8Array>,
  write: (chunk: Uint8Array) => Promise<void>,
  onBytes: (done: number) => void,
  limit: number,
  name: string,
): Promise<number> {
  const reader = body.getReader();
  let done = 0;
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    done += value.byteLength;
    if (done > limit) {
      await reader.cancel();
      throw new ModelFileError(`${name} is larger than the model says (over ${limit} bytes)`);
    }
    await write(value);
    onBytes(done);
  }
  return done;
}

interface Destination {
  writer?: CacheWriter;
  cacheNote?: string;
}

/** Decides where a model of `bytes` goes: the cache when it has room, else memory. */
export async function chooseDestination(
  cache: ModelCache | undefined,
  id: string,
  bytes: number,
): Promise<Destination> {
  if (!cache) {
    return { cacheNote: 'This browser has no origin-private file system; loaded into memory.' };
  }
  const free = await ModelCache.freeBytes();
  // 5 % headroom: the browser's estimate is approximate and other tabs share the quota.
  if (free !== undefined && free < bytes * 1.05) {
    return {
      cacheNote:
        `Not cached: this site may store ${formatBytes(free)} more but the model is ` +
        `${formatBytes(bytes)}. It was loaded into memory and will download again next time.`,
    };
  }
  return { writer: await cache.begin(id) };
}

export interface Inspection {
  id: string;
  label: string;
  source: string;
  modelBytes: Uint8Array;
  plan: AimModelPlan;
}

/** Fetches and plans `model.onnx` only; nothing else is downloaded. */
export async function inspectUrl(input: string, base: string): Promise<Inspection> {
  const url = modelUrlOf(input, base);
  const modelBytes = new Uint8Array(await (await fetchOk(url)).arrayBuffer());
  const name = decodeURIComponent(url.pathname.slice(url.pathname.lastIndexOf('/') + 1));
  const plan = planAimModel(modelBytes, name);
  const folder = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1);
  return {
    id: await modelId(modelBytes),
    label: `${url.host}${folder}`,
    source: url.href,
    modelBytes,
    plan,
  };
}

/** Downloads a planned URL model into the cache (or memory), checking every shard. */
export async function downloadModel(
  inspection: Inspection,
  cache: ModelCache | undefined,
  onProgress?: ProgressListener,
): Promise<ModelFiles> {
  const { plan } = inspection;
  const dest = await chooseDestination(cache, inspection.id, plan.totalBytes);
  try {
    return await downloadInto(inspection, dest, onProgress);
  } catch (error) {
    if (!(error instanceof CacheFullError)) throw error;
    // Storage filled up mid-way: the cache folder is already gone; start again in memory.
    return downloadInto(
      inspection,
      {
        cacheNote:
          'Not cached: the browser ran out of storage while saving the model. ' +
          'It was loaded into memory and will download again next time.',
      },
      onProgress,
    );
  }
}

async function downloadInto(
  inspection: Inspection,
  dest: Destination,
  onProgress?: ProgressListener,
): Promise<ModelFiles> {
  const { plan, modelBytes } = inspection;
  const progress = new Progress(plan, 'download', onProgress);
  progress.emit();
  const shards = new Map<string, Blob>();
  const { writer } = dest;
  try {
    if (writer) {
      const sink = await writer.create(plan.modelFileName);
      await sink.write(modelBytes);
      await sink.close();
    }
    for (const shard of plan.shards) {
      const expected = shard.expectedBytes ?? shard.requiredBytes;
      const response = await fetchOk(new URL(shard.name, inspection.source));
      if (!response.body) throw new ModelFileError(`${shard.name}: the response has no body`);
      const limit = shard.expectedBytes ?? Number.MAX_SAFE_INTEGER;
      const onBytes = (done: number) => progress.set(shard.name, done);
      if (writer) {
        const sink = await writer.create(shard.name);
        await pump(response.body, (c) => sink.write(c), onBytes, limit, shard.name);
        await sink.close();
        shards.set(shard.name, await writer.file(shard.name));
      } else {
        const chunks: Uint8Array[] = [];
        await pump(
          response.body,
          (c) => (chunks.push(c), Promise.resolve()),
          onBytes,
          limit,
          shard.name,
        );
        shards.set(shard.name, new Blob(chunks as Uint8Array<ArrayBuffer>[]));
      }
      if ((shards.get(shard.name)?.size ?? 0) < expected) {
        throw new ModelFileError(
          `${shard.name} arrived with ${shards.get(shard.name)?.size} of ${expected} bytes: ` +
            'the download was cut short',
        );
      }
    }
    await verifyShards(plan, shards);
    if (writer) {
      await writer.commit({
        label: inspection.label,
        source: inspection.source,
        modelFileName: plan.modelFileName,
      });
    }
  } catch (error) {
    await writer?.abort().catch(() => undefined);
    throw error;
  }
  return { ...inspection, shards, cached: writer !== undefined, cacheNote: dest.cacheNote };
}

/**
 * What the cache lists for a model picked from disk. Every export's main file is model.onnx,
 * so the file name alone named every cached model the same: use the folder it was picked in
 * when the browser says, and always what the model is (width × depth, format) and a short id.
 */
export function diskModelLabel(
  file: { name: string; webkitRelativePath?: string },
  plan: Pick<AimModelPlan, 'format' | 'config'>,
  id: string,
): string {
  const folder = file.webkitRelativePath?.split('/').slice(-2, -1)[0];
  const what = [
    plan.config ? `AIM ${plan.config.embedDim}×${plan.config.numBlocks}` : 'AIM',
    plan.format === 'unknown' ? undefined : plan.format,
  ]
    .filter(Boolean)
    .join(' ');
  return `${folder ? `${folder}/` : ''}${file.name} · ${what} · ${id.slice(0, 8)}`;
}

/** Plans a model directory picked from disk (one .onnx plus its shards). */
export async function inspectFiles(files: readonly File[]): Promise<{
  inspection: Inspection;
  shards: Map<string, Blob>;
}> {
  const onnx = files.filter((f) => f.name.toLowerCase().endsWith('.onnx'));
  if (onnx.length === 0) {
    const names = files.map((f) => f.name).join(', ') || 'nothing';
    throw new ModelFileError(`no .onnx file among the files given (${names})`);
  }
  const modelFile = onnx.length === 1 ? onnx[0] : onnx.find((f) => f.name === 'model.onnx');
  if (!modelFile) {
    throw new ModelFileError(
      `pick one model at a time: ${onnx.map((f) => f.name).join(', ')} are all .onnx files`,
    );
  }
  const modelBytes = new Uint8Array(await modelFile.arrayBuffer());
  const plan = planAimModel(modelBytes, modelFile.name);
  const shards = new Map<string, Blob>();
  for (const s of plan.shards) {
    const file = files.find((f) => f.name === s.name);
    if (file) shards.set(s.name, file);
  }
  // Missing, truncated or foreign shards are refused here, before anything is copied.
  await verifyShards(plan, shards);
  const id = await modelId(modelBytes);
  return {
    inspection: {
      id,
      label: diskModelLabel(modelFile, plan, id),
      source: 'disk',
      modelBytes,
      plan,
    },
    shards,
  };
}

/**
 * Copies picked files into the cache for the next visit (progress per file); without room,
 * onnxruntime reads the user's own Files directly and the page says the model is not cached.
 */
export async function cacheLocalModel(
  inspection: Inspection,
  shards: Map<string, Blob>,
  cache: ModelCache | undefined,
  onProgress?: ProgressListener,
): Promise<ModelFiles> {
  const { plan } = inspection;
  const dest = await chooseDestination(cache, inspection.id, plan.totalBytes);
  const uncached = (cacheNote: string | undefined): ModelFiles => ({
    ...inspection,
    shards,
    cached: false,
    cacheNote,
  });
  const { writer } = dest;
  if (!writer) return uncached(dest.cacheNote);
  const progress = new Progress(plan, 'copy', onProgress);
  progress.emit();
  const cachedShards = new Map<string, Blob>();
  try {
    const modelSink = await writer.create(plan.modelFileName);
    await modelSink.write(inspection.modelBytes);
    await modelSink.close();
    for (const [name, blob] of shards) {
      const sink = await writer.create(name);
      await pump(
        blob.stream(),
        (c) => sink.write(c),
        (d) => progress.set(name, d),
        blob.size,
        name,
      );
      await sink.close();
      cachedShards.set(name, await writer.file(name));
    }
    await verifyShards(plan, cachedShards);
    await writer.commit({
      label: inspection.label,
      source: inspection.source,
      modelFileName: plan.modelFileName,
    });
  } catch (error) {
    await writer.abort().catch(() => undefined);
    if (error instanceof CacheFullError) {
      return uncached(
        'Not cached: the browser ran out of storage while saving the model; it runs from ' +
          'the files you picked.',
      );
    }
    throw error;
  }
  return { ...inspection, shards: cachedShards, cached: true };
}

/** A complete cache entry, re-checked (a damaged entry is removed and reported). */
export async function openCached(cache: ModelCache, id: string): Promise<ModelFiles> {
  const entry = await cache.get(id);
  if (!entry) throw new ModelFileError('that model is no longer in the cache');
  const files = await cache.files(id);
  const model = files.get(entry.modelFileName);
  if (!model) throw new ModelFileError(`the cached ${entry.label} has no model file`);
  const modelBytes = new Uint8Array(await model.arrayBuffer());
  const plan = planAimModel(modelBytes, entry.modelFileName);
  const shards = new Map<string, Blob>();
  for (const s of plan.shards) {
    const f = files.get(s.name);
    if (f) shards.set(s.name, f);
  }
  try {
    await verifyShards(plan, shards);
  } catch (error) {
    await cache.remove(id);
    throw new ModelFileError(
      `the cached copy of ${entry.label} is damaged and was removed: ${(error as Error).message}`,
    );
  }
  return {
    id,
    label: entry.label,
    source: entry.source,
    modelBytes,
    plan,
    shards,
    cached: true,
  };
}
