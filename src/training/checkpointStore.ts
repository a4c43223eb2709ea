/**
 * Where checkpoints live in the browser: the Origin Private File System when available
 * (fast, large, works in workers), else IndexedDB, else memory. A full disk never stops a
 * run: `ResilientStore` switches to memory on a quota error and says so once.
 */

export type StoreKind = 'opfs' | 'indexeddb' | 'memory';

export interface CheckpointStore {
  readonly kind: StoreKind;
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Keys starting with `prefix`, sorted. */
  list(prefix?: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}

/** The browser refused to store more (quota exceeded). */
export class StorageFullError extends Error {
  override readonly name = 'StorageFullError';
}

function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/** Keys may contain '/', which OPFS file names cannot: encode them. */
const encodeKey = (key: string) => encodeURIComponent(key);
const decodeKey = (name: string) => decodeURIComponent(name);

export class MemoryStore implements CheckpointStore {
  readonly kind = 'memory';
  private readonly files = new Map<string, Uint8Array>();
  async put(key: string, bytes: Uint8Array) {
    this.files.set(key, bytes.slice());
  }
  async get(key: string) {
    return this.files.get(key)?.slice();
  }
  async list(prefix = '') {
    return [...this.files.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  async delete(key: string) {
    this.files.delete(key);
  }
}

export class OpfsStore implements CheckpointStore {
  readonly kind = 'opfs';
  private constructor(private readonly dir: FileSystemDirectoryHandle) {}

  static async open(folder = 'aim-playground-checkpoints'): Promise<OpfsStore> {
    const root = await navigator.storage.getDirectory();
    return new OpfsStore(await root.getDirectoryHandle(folder, { create: true }));
  }

  async put(key: string, bytes: Uint8Array) {
    // Write a temporary file, then rename: a crash mid-write never leaves a half checkpoint
    // under the real name.
    const name = encodeKey(key);
    const temp = await this.dir.getFileHandle(`${name}.partial`, { create: true });
    try {
      const writable = await temp.createWritable();
      await writable.write(bytes as BufferSource);
      await writable.close();
      const movable = temp as FileSystemFileHandle & { move?: (name: string) => Promise<void> };
      if (movable.move) {
        await this.dir.removeEntry(name).catch(() => undefined);
        await movable.move(name);
      } else {
        const target = await this.dir.getFileHandle(name, { create: true });
        const out = await target.createWritable();
        await out.write(bytes as BufferSource);
        await out.close();
        await this.dir.removeEntry(`${name}.partial`);
      }
    } catch (error) {
      await this.dir.removeEntry(`${name}.partial`).catch(() => undefined);
      if (isQuotaError(error)) throw new StorageFullError(`storage is full while saving ${key}`);
      throw error;
    }
  }

  async get(key: string) {
    try {
      const handle = await this.dir.getFileHandle(encodeKey(key));
      return new Uint8Array(await (await handle.getFile()).arrayBuffer());
    } catch (error) {
      if ((error as { name?: string }).name === 'NotFoundError') return undefined;
      throw error;
    }
  }

  async list(prefix = '') {
    const keys: string[] = [];
    const entries = (this.dir as unknown as { keys(): AsyncIterable<string> }).keys();
    for await (const name of entries) {
      if (name.endsWith('.partial')) continue;
      const key = decodeKey(name);
      if (key.startsWith(prefix)) keys.push(key);
    }
    return keys.sort();
  }

  async delete(key: string) {
    await this.dir.removeEntry(encodeKey(key)).catch((error: { name?: string }) => {
      if (error.name !== 'NotFoundError') throw error;
    });
  }
}

export class IndexedDbStore implements CheckpointStore {
  readonly kind = 'indexeddb';
  private constructor(private readonly db: IDBDatabase) {}

  static open(name = 'aim-playground'): Promise<IndexedDbStore> {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore('checkpoints');
      request.onsuccess = () => resolve(new IndexedDbStore(request.result));
      request.onerror = () => reject(request.error);
    });
  }

  private run<T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction('checkpoints', mode);
      const request = op(tx.objectStore('checkpoints'));
      tx.oncomplete = () => resolve(request.result);
      tx.onabort = tx.onerror = () => {
        const error = tx.error ?? request.error;
        reject(isQuotaError(error) ? new StorageFullError('storage is full') : error);
      };
    });
  }

  async put(key: string, bytes: Uint8Array) {
    await this.run('readwrite', (s) => s.put(bytes.slice(), key));
  }
  async get(key: string) {
    const value = await this.run('readonly', (s) => s.get(key));
    return value === undefined ? undefined : new Uint8Array(value as ArrayBuffer | Uint8Array);
  }
  async list(prefix = '') {
    const keys = (await this.run('readonly', (s) => s.getAllKeys())) as string[];
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }
  async delete(key: string) {
    await this.run('readwrite', (s) => s.delete(key));
  }
}

/** The best persistent store this browser offers: OPFS, then IndexedDB, then memory. */
export async function openPersistentStore(): Promise<CheckpointStore> {
  try {
    if (
      typeof navigator !== 'undefined' &&
      navigator.storage &&
      'getDirectory' in navigator.storage
    ) {
      return await OpfsStore.open();
    }
  } catch {
    // OPFS can be disabled (private windows, some embedders): fall through.
  }
  try {
    if (typeof indexedDB !== 'undefined') return await IndexedDbStore.open();
  } catch {
    // IndexedDB can be disabled too.
  }
  return new MemoryStore();
}

/**
 * Wraps a persistent store; on the first quota error it keeps everything in memory from then
 * on (nothing is lost while the tab lives) and calls `onFull` once so the UI can say so.
 */
export class ResilientStore implements CheckpointStore {
  private memory: MemoryStore | undefined;

  constructor(
    private readonly persistent: CheckpointStore,
    private readonly onFull: (error: StorageFullError) => void,
  ) {}

  get kind(): StoreKind {
    return this.memory ? 'memory' : this.persistent.kind;
  }

  async put(key: string, bytes: Uint8Array) {
    if (!this.memory) {
      try {
        return await this.persistent.put(key, bytes);
      } catch (error) {
        if (!(error instanceof StorageFullError)) throw error;
        this.memory = new MemoryStore();
        this.onFull(error);
      }
    }
    await this.memory.put(key, bytes);
  }

  async get(key: string) {
    return (await this.memory?.get(key)) ?? this.persistent.get(key);
  }

  async list(prefix = '') {
    const keys = new Set(await this.persistent.list(prefix));
    for (const k of (await this.memory?.list(prefix)) ?? []) keys.add(k);
    return [...keys].sort();
  }

  async delete(key: string) {
    await this.memory?.delete(key);
    await this.persistent.delete(key);
  }
}
