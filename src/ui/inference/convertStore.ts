/**
 * The conversion panel's state: the dropped checkpoint's plan, the chosen format, the running
 * conversion's progress, and its result or error. Every action goes through the conversion
 * worker (src/inference/convertApi.ts), whose calls throw; each action keeps the error here,
 * so a bad file never breaks the page. A finished conversion makes the Inference tab list the
 * cache again, where the new model appears like any other.
 */
import { create } from 'zustand';
import type { ConvertPlan } from '../../inference/convertPlan';
import type { ConvertProgress, ConvertResult } from '../../inference/convertRun';
import { convertApi } from '../../inference/convertClient';
import type { WeightFormat } from '../../onnx/weightEmitter';
import { Comlink } from '../../worker/lazyWorker';
import { serializeError, type SerializedError } from '../../worker/protocol';
import { useInference } from '../inferenceStore';

export interface ConvertState {
  files?: File[];
  plan?: ConvertPlan;
  format: WeightFormat;
  busy?: 'inspecting' | 'converting' | 'cancelling';
  progress?: ConvertProgress;
  error?: SerializedError;
  done?: ConvertResult;
  cancelled?: boolean;
  inspect: (files: File[], head?: string) => Promise<void>;
  setFormat: (format: WeightFormat) => void;
  convert: () => Promise<void>;
  cancel: () => Promise<void>;
}

/** fp16 when it fits (half the disk, f32 arithmetic), else int4, else fp32. */
function defaultFormat(plan: ConvertPlan): WeightFormat {
  for (const format of ['fp16', 'int4', 'fp32'] as const) {
    const f = plan.formats.find((p) => p.format === format);
    if (f && f.fit.ok && !f.storageShort) return format;
  }
  return 'int4';
}

export const useConvert = create<ConvertState>((set, get) => ({
  format: 'fp16',
  inspect: async (files, head) => {
    if (get().busy) return;
    set({
      busy: 'inspecting',
      files,
      plan: undefined,
      error: undefined,
      done: undefined,
      cancelled: undefined,
      progress: undefined,
    });
    try {
      const { env, backend } = useInference.getState();
      const plan = await convertApi().inspect(files, { head, limits: env?.limits, backend });
      // A new drop picks the default format; choosing another head keeps the user's choice.
      set({ plan, format: head ? get().format : defaultFormat(plan) });
    } catch (error) {
      set({ error: serializeError(error) });
    } finally {
      set({ busy: undefined });
    }
  },
  setFormat: (format) => set({ format }),
  convert: async () => {
    if (get().busy || !get().plan) return;
    set({
      busy: 'converting',
      error: undefined,
      done: undefined,
      cancelled: undefined,
      progress: undefined,
    });
    try {
      const done = await convertApi().convert(
        get().format,
        Comlink.proxy((progress: ConvertProgress) => set({ progress })),
      );
      set({ done, plan: undefined, files: undefined });
    } catch (error) {
      if (error instanceof Error && error.name === 'ConversionCancelled') set({ cancelled: true });
      else set({ error: serializeError(error) });
    } finally {
      set({ busy: undefined, progress: undefined });
      await useInference.getState().refreshCached();
    }
  },
  cancel: async () => {
    if (get().busy !== 'converting') return;
    set({ busy: 'cancelling' });
    await convertApi().cancel();
  },
}));
