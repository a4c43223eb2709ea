/**
 * PyTorch `torch.save` checkpoints (the zip format of PyTorch ≥ 1.6): `<prefix>/data.pkl`
 * holds the pickled state dict (read with the restricted unpickler), `<prefix>/data/<key>`
 * each storage's raw little-endian bytes. Tensors are read one at a time, by range.
 */
import type { ByteSource } from './byteSource';
import {
  PickleError,
  restrictedUnpickle,
  TORCH_DTYPE_BYTES,
  type TorchDType,
  type TorchTensorRef,
} from './pickle';
import { ZipArchive, ZipError } from './zip';

export class TorchCheckpointError extends Error {
  override readonly name = 'TorchCheckpointError';
}

export interface TorchStateDict {
  source: ByteSource;
  tensors: ReadonlyMap<string, TorchTensorRef>;
  /** Reads one tensor as raw little-endian bytes in row-major (C) order, strides resolved. */
  readBytes(name: string): Promise<Uint8Array>;
}

export async function openTorchCheckpoint(source: ByteSource): Promise<TorchStateDict> {
  let zip: ZipArchive;
  try {
    zip = await ZipArchive.open(source);
  } catch (error) {
    if (error instanceof ZipError) throw new TorchCheckpointError(error.message);
    throw error;
  }
  const pickles = zip.names.filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pickles.length !== 1) {
    throw new TorchCheckpointError(
      `${source.name}: expected one data.pkl in the archive, found ${pickles.length} (not a torch.save file?)`,
    );
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  const byteorder = zip.entries.has(`${prefix}byteorder`)
    ? new TextDecoder().decode(await zip.readAll(`${prefix}byteorder`)).trim()
    : 'little';
  if (byteorder !== 'little') {
    throw new TorchCheckpointError(`${source.name}: byte order "${byteorder}" is not supported`);
  }
  let root: unknown;
  try {
    root = restrictedUnpickle(await zip.readAll(pickles[0]), `${source.name}: ${pickles[0]}`);
  } catch (error) {
    if (error instanceof PickleError || error instanceof ZipError) {
      throw new TorchCheckpointError(error.message);
    }
    throw error;
  }
  if (!(root instanceof Map)) {
    throw new TorchCheckpointError(
      `${source.name}: the pickle holds a ${typeof root}, not a state dict`,
    );
  }
  // ml-l3m's consolidated checkpoints nest the weights under "model" (beside the optimizer's).
  const model = root.get('model');
  if (model instanceof Map) root = model;
  const tensors = new Map<string, TorchTensorRef>();
  for (const [key, value] of root as Map<unknown, unknown>) {
    if (typeof key !== 'string')
      throw new TorchCheckpointError(`${source.name}: a state-dict key is not a string`);
    const t = value as TorchTensorRef;
    if (typeof t !== 'object' || t === null || t.kind !== 'tensor') {
      throw new TorchCheckpointError(
        `${source.name}: "${key}" is not a tensor (a nested checkpoint? only plain state dicts are supported)`,
      );
    }
    const entry = `${prefix}data/${t.storage.key}`;
    const e = zip.entries.get(entry);
    if (!e)
      throw new TorchCheckpointError(`${source.name}: storage ${entry} of "${key}" is missing`);
    const needed = t.storage.numel * TORCH_DTYPE_BYTES[t.storage.dtype];
    if (e.uncompressedSize < needed) {
      throw new TorchCheckpointError(
        `${source.name}: storage ${entry} has ${e.uncompressedSize} bytes, "${key}" needs ${needed}`,
      );
    }
    tensors.set(key, t);
  }
  return {
    source,
    tensors,
    async readBytes(name) {
      const t = tensors.get(name);
      if (!t) throw new TorchCheckpointError(`${source.name}: no tensor "${name}"`);
      const entry = `${prefix}data/${t.storage.key}`;
      const size = TORCH_DTYPE_BYTES[t.storage.dtype];
      const numel = t.shape.reduce((a, b) => a * b, 1);
      const contiguousStride = contiguousStrides(t.shape);
      const isContiguous = t.shape.every((d, i) => d === 1 || t.stride[i] === contiguousStride[i]);
      try {
        if (isContiguous) return await zip.readRange(entry, t.storageOffset * size, numel * size);
        // A strided view: read the span it covers, then gather in row-major order.
        const span = t.shape.reduce((acc, d, i) => acc + (d - 1) * t.stride[i], 0) + 1;
        const raw = await zip.readRange(entry, t.storageOffset * size, span * size);
        return gather(raw, t.shape, t.stride, size);
      } catch (error) {
        if (error instanceof ZipError) throw new TorchCheckpointError(error.message);
        throw error;
      }
    },
  };
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = s;
    s *= shape[i];
  }
  return stride;
}

function gather(raw: Uint8Array, shape: number[], stride: number[], size: number): Uint8Array {
  const numel = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(numel * size);
  const index = new Array<number>(shape.length).fill(0);
  for (let n = 0; n < numel; n++) {
    let src = 0;
    for (let i = 0; i < shape.length; i++) src += index[i] * stride[i];
    out.set(raw.subarray(src * size, src * size + size), n * size);
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++index[i] < shape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

export type { TorchDType };
