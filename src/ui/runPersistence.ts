/**
 * Run records in IndexedDB (one entry per run), so the runs table survives reloads. Metrics
 * of long runs outgrow localStorage's few megabytes; IndexedDB does not. When the browser
 * refuses to store (quota, private mode), the records stay in memory and the page says so.
 */
import type { RunRecord } from './runRecords';

const DB = 'aim-playground-ui';
const STORE = 'runs';

let db: Promise<IDBDatabase> | undefined;

function open(): Promise<IDBDatabase> {
  db ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB refused to open'));
  });
  db.catch(() => (db = undefined));
  return db;
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export async function loadRecords(): Promise<RunRecord[]> {
  const d = await open();
  const tx = d.transaction(STORE, 'readonly');
  const req = tx.objectStore(STORE).getAll();
  await done(tx);
  return (req.result as RunRecord[]).sort((a, b) => a.createdAt - b.createdAt);
}

export async function saveRecords(records: readonly RunRecord[]): Promise<void> {
  if (records.length === 0) return;
  const d = await open();
  const tx = d.transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  for (const r of records) store.put(r);
  await done(tx);
}

export async function deleteRecord(id: string): Promise<void> {
  const d = await open();
  const tx = d.transaction(STORE, 'readwrite');
  tx.objectStore(STORE).delete(id);
  await done(tx);
}

export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}
