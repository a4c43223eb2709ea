/**
 * `window.__aimConvert` (test build only, installed by ./testHooks.ts): the conversion
 * worker's diagnostics API (./convertDiagnostics.ts), opened when first used.
 */
import { convertWorker } from '../inference/convertClient';
import type { Comlink } from '../worker/lazyWorker';
import { openDiagnosticsChannel } from './channel';
import type { ConvertDiagnosticsApi } from './convertDiagnostics';

declare global {
  interface Window {
    __aimConvert?: Comlink.Remote<ConvertDiagnosticsApi>;
  }
}

export function installConvertHooks(): void {
  let remote: Comlink.Remote<ConvertDiagnosticsApi> | undefined;
  Object.defineProperty(window, '__aimConvert', {
    get: () => (remote ??= openDiagnosticsChannel<ConvertDiagnosticsApi>(convertWorker.worker())),
    configurable: true,
  });
}
