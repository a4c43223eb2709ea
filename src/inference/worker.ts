/// <reference lib="webworker" />
/** Inference worker entry: exposes the InferenceWorkerApi over comlink. */
import * as Comlink from 'comlink';
import { acceptDiagnosticsChannel } from '../diagnostics/channel';
import { registerErrorTransfer } from '../worker/errorTransfer';
import { InferenceWorkerApi } from './api';
import type { SessionSlot } from './classify';
import { WgslEngineSession } from './wgslEngineSession';

registerErrorTransfer();
const loaded: SessionSlot = {};
const engines = new WgslEngineSession();
Comlink.expose(new InferenceWorkerApi(loaded, engines));

// The e2e test build only (`vite build --mode test`): a second comlink endpoint with the
// diagnostics API (src/diagnostics/). The production build folds this branch away.
if (import.meta.env.MODE === 'test')
  acceptDiagnosticsChannel(async () =>
    (await import('../diagnostics/inferenceDiagnostics')).exposer(loaded, engines),
  );
