/**
 * The page's state (zustand). UI components read it and call its actions; the actions
 * talk to the worker through comlink. Nothing here touches the GPU except the page-side
 * self-test, which exists to prove kernels also run on the main thread.
 */
import { create } from 'zustand';
import type { GpuCapabilities } from '../gpu/capabilities';
import { checkMatmul, SELF_TEST_SHAPES, type MatmulCheckResult } from '../diagnostics/matmulCheck';
import { serializeError, type SerializedError } from '../worker/protocol';
import { Comlink, workerApi } from '../worker/client';
import { pageGpu } from './pageGpu';

export type GpuPhase = 'probing' | 'ready' | 'unavailable' | 'lost';
export type Where = 'worker' | 'page';

export interface SelfTestRow extends MatmulCheckResult {
  where: Where;
}

export interface PlaygroundState {
  gpuPhase: GpuPhase;
  capabilities?: GpuCapabilities;
  gpuError?: SerializedError;
  selfTestRunning: boolean;
  selfTestRows: SelfTestRow[];
  selfTestError?: SerializedError;
  probeGpu: () => Promise<void>;
  runSelfTest: () => Promise<void>;
}

export const usePlayground = create<PlaygroundState>((set, get) => ({
  gpuPhase: 'probing',
  selfTestRunning: false,
  selfTestRows: [],

  probeGpu: async () => {
    set({ gpuPhase: 'probing', gpuError: undefined });
    if (!('gpu' in navigator)) {
      set({
        gpuPhase: 'unavailable',
        gpuError: {
          name: 'WebGpuUnavailableError',
          message: 'This browser does not expose WebGPU (navigator.gpu is missing).',
          remedy:
            'Use a recent Chrome or Edge (113+), Safari 26+ or Firefox 141+ on Windows; on Linux Chromium, start it with --enable-unsafe-webgpu. WebGPU also needs a secure context (HTTPS or localhost).',
        },
      });
      return;
    }
    const api = workerApi();
    const result = await api.probe();
    if (!result.ok) {
      set({ gpuPhase: 'unavailable', gpuError: result.error });
      return;
    }
    set({ gpuPhase: 'ready', capabilities: result.capabilities });
    await api.onDeviceLost(
      Comlink.proxy((error: SerializedError) => set({ gpuPhase: 'lost', gpuError: error })),
    );
  },

  runSelfTest: async () => {
    if (get().selfTestRunning) return;
    set({ selfTestRunning: true, selfTestRows: [], selfTestError: undefined });
    try {
      const rows: SelfTestRow[] = [];
      for (const req of SELF_TEST_SHAPES) {
        rows.push({ where: 'worker', ...(await workerApi().checkMatmul(req)) });
        set({ selfTestRows: [...rows] });
      }
      const ctx = await pageGpu();
      for (const req of SELF_TEST_SHAPES) {
        rows.push({ where: 'page', ...(await checkMatmul(ctx, req)) });
        set({ selfTestRows: [...rows] });
      }
    } catch (error) {
      set({ selfTestError: serializeError(error) });
    } finally {
      set({ selfTestRunning: false });
    }
  },
}));
