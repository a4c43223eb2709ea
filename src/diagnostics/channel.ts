/**
 * The test build's second comlink endpoint on a worker: the page posts a MessagePort in a
 * message comlink ignores (its `type` is none of comlink's), and the worker exposes its
 * diagnostics API on that port. The product API never carries a test call, and in the
 * production build neither side of this exists (both call sites sit behind a build-mode
 * branch that the bundler removes).
 */
import * as Comlink from 'comlink';

const OPEN_DIAGNOSTICS = 'aim-open-diagnostics';

/** Page side: a remote on the diagnostics API of `worker`. */
export function openDiagnosticsChannel<T>(worker: Worker): Comlink.Remote<T> {
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ type: OPEN_DIAGNOSTICS, port: port2 }, [port2]);
  return Comlink.wrap<T>(port1);
}

/**
 * Worker side: listens at once (a request may arrive before the diagnostics module has
 * loaded; the port queues its messages until comlink starts it), then exposes on each port.
 */
export function acceptDiagnosticsChannel(load: () => Promise<(port: MessagePort) => void>): void {
  let expose: Promise<(port: MessagePort) => void> | undefined;
  self.addEventListener('message', (event: MessageEvent) => {
    const data = event.data as { type?: unknown; port?: MessagePort } | undefined;
    if (data?.type !== OPEN_DIAGNOSTICS || !data.port) return;
    const port = data.port;
    expose ??= load();
    void expose.then((exposeOn) => exposeOn(port));
  });
}
