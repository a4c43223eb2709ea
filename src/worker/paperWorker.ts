/// <reference lib="webworker" />
/**
 * Paper-mode worker entry: exposes the PaperGridWorkerApi over comlink. A worker of its own,
 * so a grid of many cells runs beside (not instead of) the Train tab's run.
 */
import * as Comlink from 'comlink';
import { registerErrorTransfer } from './errorTransfer';
import { PaperGridWorkerApi } from './paperGrid';

registerErrorTransfer();
Comlink.expose(new PaperGridWorkerApi());
