/**
 * The page's handle on a Web Worker behind comlink: started on first use, then kept. Both
 * workers (training: ./client.ts, inference: ../inference/client.ts) use it.
 */
import * as Comlink from 'comlink';
import { registerErrorTransfer } from './errorTransfer';

export interface LazyWorker<T> {
  /** The worker's API; starts the worker on first call. */
  api: () => Comlink.Remote<T>;
  /** The worker itself (started if needed), for a second endpoint such as the test build's diagnostics. */
  worker: () => Worker;
}

/**
 * `create` must construct the Worker with `new Worker(new URL('…', import.meta.url), …)`
 * written out at the call site: that is the form Vite recognises and bundles.
 */
export function lazyWorker<T>(create: () => Worker): LazyWorker<T> {
  let worker: Worker | undefined;
  let api: Comlink.Remote<T> | undefined;
  const started = () => {
    if (!worker) {
      registerErrorTransfer();
      worker = create();
    }
    return worker;
  };
  return {
    api: () => (api ??= Comlink.wrap<T>(started())),
    worker: started,
  };
}

export { Comlink };
