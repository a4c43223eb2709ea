/** Messages between the page and the worker: plain data, structured-cloneable. */
import type { GpuCapabilities } from '../gpu/capabilities';

export interface SerializedError {
  name: string;
  message: string;
  /** What the user can do about it, when we know. */
  remedy?: string;
}

export type GpuProbeResult =
  { ok: true; capabilities: GpuCapabilities } | { ok: false; error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const remedy = (error as { remedy?: unknown }).remedy;
    return {
      name: error.name,
      message: error.message,
      remedy: typeof remedy === 'string' ? remedy : undefined,
    };
  }
  return { name: 'Error', message: String(error) };
}
