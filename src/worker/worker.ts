/// <reference lib="webworker" />
/** Training worker entry: exposes the PlaygroundWorkerApi over comlink. */
import * as Comlink from 'comlink';
import { acceptDiagnosticsChannel } from '../diagnostics/channel';
import { PlaygroundWorkerApi } from './api';
import { registerErrorTransfer } from './errorTransfer';
import { WorkerGpu } from './workerGpu';

registerErrorTransfer();
const gpu = new WorkerGpu();
Comlink.expose(new PlaygroundWorkerApi(gpu));

// The e2e test build only (`vite build --mode test`): a second comlink endpoint with the
// diagnostics API (src/diagnostics/). The production build folds this branch away.
if (import.meta.env.MODE === 'test')
  acceptDiagnosticsChannel(async () =>
    (await import('../diagnostics/trainingDiagnostics')).exposer(gpu),
  );
