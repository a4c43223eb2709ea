/** The page's handle on the checkpoint-conversion worker (started on first use, then kept). */
import { lazyWorker } from '../worker/lazyWorker';
import type { ConvertWorkerApi } from './convertApi';

export const convertWorker = lazyWorker<ConvertWorkerApi>(
  () =>
    new Worker(new URL('./convertWorker.ts', import.meta.url), {
      type: 'module',
      name: 'aim-convert',
    }),
);

export const convertApi = convertWorker.api;
