/**
 * The query-attention view's state (zustand): the last block of attention rows the worker
 * computed from a run's checkpoint (src/worker/queryAttention.ts), whether a computation is
 * under way, and its error. The rows hold every query and head, so choosing either is the
 * page's business; only a new run, image, block or prefix asks the worker again.
 */
import { create } from 'zustand';
import { workerApi } from '../worker/client';
import { serializeError, type SerializedError } from '../worker/protocol';
import type { QueryAttentionRequest, QueryAttentionResult } from '../worker/queryAttention';

export type { QueryAttentionRequest, QueryAttentionResult };

export interface QueryAttentionState {
  /** The request of the result shown (or being computed). */
  request?: QueryAttentionRequest;
  result?: QueryAttentionResult;
  busy: boolean;
  error?: SerializedError;
  load: (req: QueryAttentionRequest) => Promise<void>;
}

const sameRequest = (a: QueryAttentionRequest | undefined, b: QueryAttentionRequest) =>
  a !== undefined && JSON.stringify(a) === JSON.stringify(b);

export const useQueryAttention = create<QueryAttentionState>((set, get) => ({
  busy: false,
  load: async (req) => {
    if (sameRequest(get().request, req) && (get().result || get().busy)) return;
    set({ request: req, busy: true, error: undefined });
    try {
      const result = await workerApi().queryAttention(req);
      // A newer request may have been made while this one was computed: keep only the newest.
      if (sameRequest(get().request, req)) set({ result, busy: false });
    } catch (error) {
      if (sameRequest(get().request, req))
        set({ result: undefined, busy: false, error: serializeError(error) });
    }
  },
}));
