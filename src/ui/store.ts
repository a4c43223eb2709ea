/**
 * The page's state (zustand). UI components read it and call its actions; the actions
 * talk to the worker through comlink. Nothing here touches the GPU: the self-test runs in
 * the worker (the test build adds a run on the page, see src/diagnostics/testHooks.ts).
 */
import { create } from 'zustand';
import type { GpuCapabilities } from '../gpu/capabilities';
import {
  SELF_TEST_SHAPES,
  type MatmulCheckRequest,
  type MatmulCheckResult,
} from '../diagnostics/selfTestShapes';
import { serializeError, type SerializedError } from '../worker/protocol';
import { Comlink, workerApi } from '../worker/client';

export type GpuPhase = 'probing' | 'ready' | 'unavailable' | 'lost';
export type Where = 'worker' | 'page';

export interface SelfTestRow extends MatmulCheckResult {
  where: Where;
}

/** Where the self-test multiplies, in order: the training worker, plus what a test build adds. */
const selfTestTargets: {
  where: Where;
  check: (req: MatmulCheckRequest) => Promise<MatmulCheckResult>;
}[] = [{ where: 'worker', check: (req) => workerApi().checkMatmul(req) }];

export function addSelfTestTarget(
  where: Where,
  check: (req: MatmulCheckRequest) => Promise<MatmulCheckResult>,
): void {
  selfTestTargets.push({ where, check });
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
    let capabilities: GpuCapabilities;
    try {
      capabilities = await api.probe();
    } catch (error) {
      set({ gpuPhase: 'unavailable', gpuError: serializeError(error) });
      return;
    }
    set({ gpuPhase: 'ready', capabilities });
    await api.onDeviceLost(
      Comlink.proxy((error: SerializedError) => set({ gpuPhase: 'lost', gpuError: error })),
    );
  },

  runSelfTest: async () => {
    if (get().selfTestRunning) return;
    set({ selfTestRunning: true, selfTestRows: [], selfTestError: undefined });
    try {
      const rows: SelfTestRow[] = [];
      for (const { where, check } of selfTestTargets)
        for (const req of SELF_TEST_SHAPES) {
          rows.push({ where, ...(await check(req)) });
          set({ selfTestRows: [...rows] });
        }
    } catch (error) {
      set({ selfTestError: serializeError(error) });
    } finally {
      set({ selfTestRunning: false });
    }
  },
}));
