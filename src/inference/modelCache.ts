/**
 * The Inference page's model cache: each model directory (model.onnx + its external-data
 * shards) in its own folder of the origin-private file system, so the next visit loads from
 * disk instead of the network, and onnxruntime reads each tensor straight from the OPFS File
 * (a Blob) without the whole shard ever sitting in the JS heap.
 *
 * Nothing half-written is ever offered: a folder counts as cached only once its `entry.json`
 * exists, and that file is written last, after every data file is closed. A folder without
 * it (a tab closed mid-download, a quota error) is deleted the next time the cache is listed.
 *
 * Writes go through `CacheWriter`, which is the exporter's `DataSink` too, so a model
 * exported in the tab streams into the cache the same way a download does.
 */
import type { DataSink, FileSink } from '../onnx/externalData';

const ROOT = 'inference-models';
const ENTRY = 'entry.json';

export interface CachedFile {
  name: string;
  bytes: number;
}

export interface CachedModelEntry {
  id: string;
  /** What the user sees: the URL's folder, the picked file name, or the training run. */
  label: string;
  /** Where it came from: a URL, `disk`, or `run:<runId>`. */
  source: string;
  modelFileName: string;
  files: CachedFile[];
  totalBytes: number;
  savedAt: string;
}

/** Storage full while writing: the caller loads from memory instead and says so. */
export class CacheFullError extends Error {
  override readonly name = 'CacheFullError';
}

export function isQuotaError(error: unknown): boolean {
  return (
    error instanceof DOMException &&
    (error.name === 'QuotaExceededError' || error.name === 'NS_ERROR_DOM_QUOTA_REACHED')
  );
}

/** A folder name that is safe on every OPFS implementation. */
function folderName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 120);
}

/** A plain file name from a model directory (no folders, no `..`). */
export function checkFileName(name: string): string {
  if (!/^[A-Za-z0-9_.+-][A-Za-z0-9 _.+-]*$/.test(name) || name === ENTRY || name.includes('..')) {
    throw new RangeError(`unsupported file name in a model directory: ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * The Web Lock a worker holds while it writes model `id` from outside the worker that lists
 * the cache (the checkpoint conversion worker), so list() does not take the unfinished folder
 * for one left by a closed tab.
 */
export function cacheWriteLockName(id: string): string {
  return `aim-model-cache-write:${folderName(id)}`;
}

async function heldLockNames(): Promise<Set<string>> {
  try {
    const state = await navigator.locks.query();
    return new Set((state.held ?? []).map((l) => l.name ?? ''));
  } catch {
    return new Set();
  }
}

let quotaOverride: number | undefined;

/** Diagnostics: make freeBytes() report `bytes` (undefined restores the browser's answer). */
export function setStorageQuotaOverride(bytes: number | undefined): void {
  quotaOverride = bytes;
}

export class ModelCache {
  private constructor(private readonly root: FileSystemDirectoryHandle) {}

  /** The cache, or undefined where the browser has no OPFS (then models load from memory). */
  static async open(): Promise<ModelCache | undefined> {
    try {
      const opfs = await navigator.storage.getDirectory();
      return new ModelCache(await opfs.getDirectoryHandle(ROOT, { create: true }));
    } catch {
      return undefined;
    }
  }

  /** Free bytes the origin may still use, when the browser says. */
  static async freeBytes(): Promise<number | undefined> {
    if (quotaOverride !== undefined) return quotaOverride;
    try {
      const { quota, usage } = await navigator.storage.estimate();
      return quota === undefined ? undefined : Math.max(0, quota - (usage ?? 0));
    } catch {
      return undefined;
    }
  }

  /**
   * Complete entries, newest first; folders left half-written are removed, except those
   * another worker is still writing (it holds their cacheWriteLockName).
   */
  async list(): Promise<CachedModelEntry[]> {
    const entries: CachedModelEntry[] = [];
    const stale: string[] = [];
    const writing = await heldLockNames();
    for await (const [name, handle] of this.root.entries()) {
      if (handle.kind !== 'directory') continue;
      const entry = await readEntry(handle as FileSystemDirectoryHandle);
      if (entry) entries.push(entry);
      else if (!writing.has(cacheWriteLockName(name))) stale.push(name);
    }
    for (const name of stale) await this.root.removeEntry(name, { recursive: true });
    return entries.sort((a, b) => b.savedAt.localeCompare(a.savedAt));
  }

  async get(id: string): Promise<CachedModelEntry | undefined> {
    const dir = await this.folder(id, false);
    return dir ? readEntry(dir) : undefined;
  }

  /** The entry's files as OPFS Files (Blobs read lazily from disk), by name. */
  async files(id: string): Promise<Map<string, File>> {
    const dir = await this.folder(id, false);
    const entry = dir && (await readEntry(dir));
    if (!dir || !entry) throw new Error(`model ${id} is not in the cache`);
    const files = new Map<string, File>();
    for (const f of entry.files) {
      const file = await (await dir.getFileHandle(f.name)).getFile();
      if (file.size !== f.bytes) {
        await this.remove(id);
        throw new Error(
          `the cached copy of ${entry.label} is damaged (${f.name} is ${file.size} bytes, ` +
            `expected ${f.bytes}); it was removed — load the model again`,
        );
      }
      files.set(f.name, file);
    }
    return files;
  }

  async remove(id: string): Promise<void> {
    try {
      await this.root.removeEntry(folderName(id), { recursive: true });
    } catch (error) {
      if (!(error instanceof DOMException && error.name === 'NotFoundError')) throw error;
    }
  }

  /** Starts writing a model; any earlier copy with the same id is replaced. */
  async begin(id: string): Promise<CacheWriter> {
    await this.remove(id);
    const dir = await this.root.getDirectoryHandle(folderName(id), { create: true });
    return new CacheWriter(this, id, dir);
  }

  private async folder(id: string, create: boolean) {
    try {
      return await this.root.getDirectoryHandle(folderName(id), { create });
    } catch {
      return undefined;
    }
  }
}

async function readEntry(dir: FileSystemDirectoryHandle): Promise<CachedModelEntry | undefined> {
  try {
    const file = await (await dir.getFileHandle(ENTRY)).getFile();
    const entry = JSON.parse(await file.text()) as CachedModelEntry;
    return typeof entry.id === 'string' && Array.isArray(entry.files) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes one model folder. Each `create(name)` opens a file; `commit` writes the entry that
 * makes the folder count; `abort` deletes the folder. A quota error from any write surfaces
 * as CacheFullError after the folder is deleted, so nothing partial stays behind.
 */
export class CacheWriter implements DataSink {
  private readonly written = new Map<string, number>();

  constructor(
    private readonly cache: ModelCache,
    readonly id: string,
    private readonly dir: FileSystemDirectoryHandle,
  ) {}

  async create(fileName: string): Promise<FileSink> {
    const name = checkFileName(fileName);
    const handle = await this.dir.getFileHandle(name, { create: true });
    const stream = await this.guard(() => handle.createWritable());
    let bytes = 0;
    this.written.set(name, 0);
    return {
      write: async (chunk: Uint8Array) => {
        await this.guard(() => stream.write(chunk as Uint8Array<ArrayBuffer>));
        bytes += chunk.byteLength;
        this.written.set(name, bytes);
      },
      close: () => this.guard(() => stream.close()),
    };
  }

  async file(name: string): Promise<File> {
    return (await this.dir.getFileHandle(checkFileName(name))).getFile();
  }

  async commit(
    entry: Omit<CachedModelEntry, 'id' | 'files' | 'totalBytes' | 'savedAt'>,
  ): Promise<CachedModelEntry> {
    const files = [...this.written].map(([name, bytes]) => ({ name, bytes }));
    const full: CachedModelEntry = {
      ...entry,
      id: this.id,
      files,
      totalBytes: files.reduce((a, f) => a + f.bytes, 0),
      savedAt: new Date().toISOString(),
    };
    const sink = await this.create(ENTRY_TMP);
    await sink.write(new TextEncoder().encode(JSON.stringify(full)));
    await sink.close();
    this.written.delete(ENTRY_TMP);
    // Renaming makes the entry appear whole or not at all.
    const tmp = await this.dir.getFileHandle(ENTRY_TMP);
    await (tmp as FileSystemFileHandle & { move(name: string): Promise<void> }).move(ENTRY);
    return full;
  }

  abort(): Promise<void> {
    return this.cache.remove(this.id);
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (isQuotaError(error)) {
        await this.abort().catch(() => undefined);
        throw new CacheFullError('the browser ran out of storage while caching the model');
      }
      throw error;
    }
  }
}

const ENTRY_TMP = 'entry.json.tmp';
