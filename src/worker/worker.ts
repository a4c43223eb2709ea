/// <reference lib="webworker" />
/** Worker entry: exposes the PlaygroundWorkerApi over comlink. */
import * as Comlink from 'comlink';
import { PlaygroundWorkerApi } from './api';

Comlink.expose(new PlaygroundWorkerApi());
