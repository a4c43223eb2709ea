/**
 * Errors from the worker as sentences a student understands, with what to do; the technical
 * text stays available one click away (ErrorNotice).
 */
import type { SerializedError } from '../worker/protocol';

export interface Explained {
  headline: string;
  advice?: string;
}

export function explainError(e: SerializedError): Explained {
  const text = `${e.name}: ${e.message}`;
  if (e.name === 'ModelFileError')
    return { headline: 'This model cannot be used.', advice: e.remedy ?? e.message };
  // Before the dataset rule below, whose /image/ would claim it.
  if (e.name === 'ImageFileError')
    return { headline: 'This image could not be read.', advice: e.remedy ?? e.message };
  if (e.name === 'OnnxSessionError')
    return { headline: 'onnxruntime could not run this model.', advice: e.remedy ?? e.message };
  if (e.name === 'CacheFullError')
    return { headline: 'Browser storage is full.', advice: e.message };
  if (/out-of-memory|out of memory|OutOfMemory/i.test(text))
    return {
      headline: 'The GPU ran out of memory for this model and batch size.',
      advice: 'Choose a smaller preset or a smaller batch, then train again.',
    };
  if (e.name === 'GpuDeviceLostError' || /device (was )?lost/i.test(text))
    return {
      headline: 'The GPU stopped responding (the device was lost).',
      advice:
        'This happens when the driver resets or the GPU is needed elsewhere. Reconnect, then resume the run from its last checkpoint in the Runs tab.',
    };
  if (e.name === 'NonFiniteError' || /NaN or infinite/.test(text))
    return {
      headline: 'Training diverged: the loss became NaN or infinite.',
      advice:
        'The parameters are those of the last good step. Lower the learning rate or lengthen the warm-up, and start again.',
    };
  if (/StorageFull|QuotaExceeded|quota/i.test(text))
    return {
      headline: 'Browser storage is full.',
      advice:
        'Training continues with checkpoints kept in memory. Delete or export old runs to free space.',
    };
  if (/Dataset|Idx|Cifar|Zip|decode|image/i.test(e.name) || /dataset/i.test(e.message))
    return {
      headline: 'The dataset could not be used.',
      advice: e.remedy ?? e.message,
    };
  if (e.name === 'RangeError') return { headline: 'These settings cannot run.', advice: e.message };
  if (e.name === 'WebGpuUnavailableError')
    return { headline: 'WebGPU is not available.', advice: e.remedy };
  if (/no checkpoint/i.test(e.message))
    return {
      headline: 'There is no checkpoint of this run in this browser to resume from.',
      advice: 'Start the run again; lower "checkpoint every" to save more often.',
    };
  return {
    headline: 'Something went wrong in the training worker.',
    advice: e.remedy ?? 'Try again; if it happens again, the technical detail below says where.',
  };
}
