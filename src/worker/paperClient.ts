/** The page's handle on the paper-mode worker (started on first use, then kept). */
import type { PaperGridWorkerApi } from './paperGrid';
import { lazyWorker } from './lazyWorker';

export { Comlink } from './lazyWorker';

export const paperWorker = lazyWorker<PaperGridWorkerApi>(
  () =>
    new Worker(new URL('./paperWorker.ts', import.meta.url), {
      type: 'module',
      name: 'aim-paper-worker',
    }),
);

export const paperApi = paperWorker.api;
