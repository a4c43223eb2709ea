/// <reference lib="webworker" />
/** Checkpoint-conversion worker entry: exposes the ConvertWorkerApi over comlink. */
import * as Comlink from 'comlink';
import { acceptDiagnosticsChannel } from '../diagnostics/channel';
import { registerErrorTransfer } from '../worker/errorTransfer';
import { ConvertWorkerApi } from './convertApi';

registerErrorTransfer();
Comlink.expose(new ConvertWorkerApi());

// The e2e test build only (`vite build --mode test`): the random-weight conversion benchmark
// (src/diagnostics/convertDiagnostics.ts). The production build folds this branch away.
if (import.meta.env.MODE === 'test')
  acceptDiagnosticsChannel(async () =>
    (await import('../diagnostics/convertDiagnostics')).exposer(),
  );
