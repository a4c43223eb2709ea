/// <reference lib="webworker" />
/** Inference worker entry: exposes the InferenceWorkerApi over comlink. */
import * as Comlink from 'comlink';
import { InferenceWorkerApi } from './api';

Comlink.expose(new InferenceWorkerApi());
