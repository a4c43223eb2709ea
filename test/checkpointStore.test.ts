import { describe, expect, it } from 'vitest';
import {
  MemoryStore,
  ResilientStore,
  StorageFullError,
  type CheckpointStore,
} from '../src/training/checkpointStore';

/** A persistent store with a byte budget that fails as browsers do (QuotaExceededError). */
class BudgetStore extends MemoryStore implements CheckpointStore {
  private used = 0;
  constructor(private readonly budget: number) {
    super();
  }
  override async put(key: string, bytes: Uint8Array) {
    if (this.used + bytes.length > this.budget)
      throw new StorageFullError(`storage is full while saving ${key}`);
    this.used += bytes.length;
    await super.put(key, bytes);
  }
}

describe('checkpoint stores', () => {
  it('memory store round-trips, lists by prefix and deletes', async () => {
    const store = new MemoryStore();
    await store.put('run-a/step-10', Uint8Array.of(1, 2, 3));
    await store.put('run-a/step-20', Uint8Array.of(4));
    await store.put('run-b/step-5', Uint8Array.of(5));
    expect(await store.list('run-a/')).toEqual(['run-a/step-10', 'run-a/step-20']);
    expect(Array.from((await store.get('run-a/step-10'))!)).toEqual([1, 2, 3]);
    await store.delete('run-a/step-10');
    expect(await store.get('run-a/step-10')).toBeUndefined();
  });

  it('keeps going in memory when storage is full, and says so once', async () => {
    const full: StorageFullError[] = [];
    const store = new ResilientStore(new BudgetStore(5), (e) => full.push(e));
    await store.put('run/step-1', new Uint8Array(4));
    await store.put('run/step-2', new Uint8Array(4)); // over budget: falls back
    await store.put('run/step-3', new Uint8Array(4));
    expect(full).toHaveLength(1);
    expect(store.kind).toBe('memory');
    expect(full[0].message).toContain('run/step-2');
    expect(await store.list('run/')).toEqual(['run/step-1', 'run/step-2', 'run/step-3']);
    expect((await store.get('run/step-3'))!.length).toBe(4);
  });
});
