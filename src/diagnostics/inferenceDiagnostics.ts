/**
 * The inference worker's diagnostics API (test build only, see ./channel.ts): run an
 * already-preprocessed batch through the loaded session and get every output back (the
 * e2e test compares the browser's numbers with ml-aim's), and pretend the storage quota is
 * small (the "not cached, loaded from memory" path without filling a real disk).
 */
import * as Comlink from 'comlink';
import { loadedSession, type SessionSlot } from '../inference/classify';
import { setStorageQuotaOverride } from '../inference/modelCache';
import type { WgslEngineSession } from '../inference/wgslEngineSession';

export class InferenceDiagnosticsApi {
  constructor(
    private readonly loaded: SessionSlot,
    private readonly engines?: WgslEngineSession,
  ) {}

  /** The same batch on our WGSL engine (the second engine's e2e compares it with ml-aim). */
  async runWgslBatch(images: Float32Array, count: number) {
    if (!this.engines) throw new Error('no second engine in this worker');
    const engine = await this.engines.engineForBatch(loadedSession(this.loaded), count);
    return engine.run(images, count);
  }

  async runBatch(images: Float32Array, dims: number[]) {
    const s = loadedSession(this.loaded);
    const { outputs, latencyMs } = await s.model.run(images, dims);
    s.runs++;
    return { outputs, latencyMs, backend: s.model.info.backend };
  }

  /** Make the cache see only `bytes` free (undefined: ask the browser again). */
  simulateStorageQuota(bytes: number | undefined): void {
    setStorageQuotaOverride(bytes);
  }
}

export function exposer(
  loaded: SessionSlot,
  engines?: WgslEngineSession,
): (port: MessagePort) => void {
  const api = new InferenceDiagnosticsApi(loaded, engines);
  return (port) => Comlink.expose(api, port);
}
