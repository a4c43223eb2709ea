/**
 * safetensors over a ByteSource: the header is read and checked (same rules as
 * src/data/safetensors.ts, which needs the whole file in memory), tensors are read by range
 * one at a time — for fp16 community copies of multi-GB checkpoints.
 */
import type { ByteSource } from './byteSource';
import { TORCH_DTYPE_BYTES, type TorchDType } from './pickle';

/** The dtypes safetensors files carry are the ones torch.save archives carry. */
export type SafetensorsSourceDType = TorchDType;

const BYTES: Record<SafetensorsSourceDType, number> = TORCH_DTYPE_BYTES;

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsSourceError extends Error {
  override readonly name = 'SafetensorsSourceError';
}

export interface SafetensorsSourceEntry {
  dtype: SafetensorsSourceDType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsSource {
  source: ByteSource;
  entries: ReadonlyMap<string, SafetensorsSourceEntry>;
  metadata: Readonly<Record<string, string>>;
  readBytes(name: string): Promise<Uint8Array>;
}

export async function openSafetensors(source: ByteSource): Promise<SafetensorsSource> {
  const fail = (msg: string): never => {
    throw new SafetensorsSourceError(`${source.name}: ${msg}`);
  };
  if (source.size < 8) fail(`${source.size} bytes, too short for a safetensors header`);
  const lengthBytes = await source.read(0, 8);
  const headerLength = Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} is implausibly large`);
  if (8 + headerLength > source.size)
    fail(`header runs past the end of the ${source.size}-byte file`);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, headerLength)),
    );
  } catch (error) {
    fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not an object');
  const dataStart = 8 + headerLength;
  const dataLength = source.size - dataStart;
  const entries = new Map<string, SafetensorsSourceEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (value ?? {}) as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in BYTES))
      fail(`tensor "${name}": unsupported dtype ${String(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}": bad shape`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`tensor "${name}": bad data_offsets`);
    }
    const [begin, end] = offsets as number[];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype as SafetensorsSourceDType]) {
      fail(
        `tensor "${name}": ${dtype} [${(shape as number[]).join(', ')}] does not fit data_offsets [${begin}, ${end}]`,
      );
    }
    if (end > dataLength) {
      fail(
        `tensor "${name}" ends at ${end}, past the ${dataLength}-byte data section (truncated file?)`,
      );
    }
    entries.set(name, {
      dtype: dtype as SafetensorsSourceDType,
      shape: shape as number[],
      begin,
      end,
    });
  }
  return {
    source,
    entries,
    metadata,
    readBytes(name) {
      const e = entries.get(name);
      if (!e) throw new SafetensorsSourceError(`${source.name}: no tensor "${name}"`);
      return source.read(dataStart + e.begin, e.end - e.begin);
    },
  };
}
