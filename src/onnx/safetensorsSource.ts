/**
 * safetensors over a ByteSource: the prefix and the header are read and checked by the same
 * parser as an in-memory file (src/data/safetensors.ts), then tensors are read by range one
 * at a time — for fp16 community copies of multi-GB checkpoints.
 */
import {
  parseSafetensorsHeader,
  SafetensorsError,
  safetensorsHeaderLength,
  type SafetensorsEntry,
} from '../data/safetensors';
import type { ByteSource } from './byteSource';

export interface SafetensorsSource {
  source: ByteSource;
  entries: ReadonlyMap<string, SafetensorsEntry>;
  metadata: Readonly<Record<string, string>>;
  readBytes(name: string): Promise<Uint8Array>;
}

export async function openSafetensors(source: ByteSource): Promise<SafetensorsSource> {
  const { name: label, size } = source;
  const prefix = await source.read(0, Math.min(8, size));
  const headerLength = safetensorsHeaderLength(prefix, size, label);
  const { dataStart, entries, metadata } = parseSafetensorsHeader(
    await source.read(8, headerLength),
    size,
    label,
  );
  return {
    source,
    entries,
    metadata,
    async readBytes(name) {
      const e = entries.get(name);
      if (!e) throw new SafetensorsError(`${label}: no tensor "${name}"`);
      return source.read(dataStart + e.begin, e.end - e.begin);
    },
  };
}
