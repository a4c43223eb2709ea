/**
 * A playground model's parameters (ml-aim keys, src/model/params.ts) as ml-l3m's AIM v1 state
 * dict (src/onnx/l3mKeys.ts has the table) and back, exactly: float32 values are copied, never
 * recomputed, so the round trip is bit-identical.
 *
 * ml-l3m's head blocks always compute x + LN1(x) before the MLP. A model trained without
 * that term (the paper's head, this project's default) is written with every head
 * `norm_1` at weight 0 and bias 0: LN1(x) is then 0 and the ml-l3m model computes what the
 * playground's did. Reading back, head `norm_1`s that are all zero are dropped again.
 */
import { AimCheckpointError, type WeightSource } from '../onnx/checkpoint';
import {
  isMlL3mLayout,
  l3mKeyOf,
  mlL3mAsMlAim,
  qkvBlock,
  splitQkvKeys,
  stripWrapperPrefixes,
} from '../onnx/l3mKeys';
import type { StateTensor } from './torchSave';

export type TensorMap = ReadonlyMap<string, StateTensor>;

const HEAD_BLOCK_NORM = /^head\.blocks\.(\d+)\.norm\.weight$/;

/** ml-aim keys → ml-l3m's state dict (q/k/v split, names mapped, zero norm_1 where needed). */
export function aimToL3m(params: TensorMap): Map<string, StateTensor> {
  const out = new Map<string, StateTensor>();
  const hasExtraNorm = [...params.keys()].some((k) => k.includes('.norm_extra.'));
  for (const [key, t] of params) {
    const block = qkvBlock(key);
    if (block !== undefined) {
      const [rows3, cols] = t.shape;
      if (t.shape.length !== 2 || rows3 % 3 !== 0)
        throw new AimCheckpointError(`${key}: shape [${t.shape.join(', ')}] is not [3D, D]`);
      const rows = rows3 / 3;
      splitQkvKeys(block).forEach((name, i) => {
        out.set(name, {
          shape: [rows, cols],
          data: t.data.slice(i * rows * cols, (i + 1) * rows * cols),
        });
      });
      continue;
    }
    out.set(l3mKeyOf(key), { shape: [...t.shape], data: t.data.slice() });
    const head = HEAD_BLOCK_NORM.exec(key);
    if (head && !hasExtraNorm) {
      const width = t.shape[0];
      for (const part of ['weight', 'bias'])
        out.set(`head.decoder_blocks.${head[1]}.norm_1.${part}`, {
          shape: [width],
          data: new Float32Array(width),
        });
    }
  }
  return out;
}

/** An in-memory state dict as a WeightSource (so ml-l3m → ml-aim uses the exporter's own view). */
export function mapWeightSource(tensors: TensorMap, file = 'memory'): WeightSource {
  return {
    names: [...tensors.keys()],
    has: (name) => tensors.has(name),
    info(name) {
      const t = tensors.get(name);
      if (!t) throw new AimCheckpointError(`no tensor "${name}"`);
      return { name, dtype: 'F32', shape: t.shape, file };
    },
    readFloat32(name) {
      const t = tensors.get(name);
      if (!t) return Promise.reject(new AimCheckpointError(`no tensor "${name}"`));
      return Promise.resolve(t.data.slice());
    },
  };
}

/** Every tensor of `weights` read into memory, by name. */
export async function readAll(weights: WeightSource): Promise<Map<string, StateTensor>> {
  const out = new Map<string, StateTensor>();
  for (const name of weights.names)
    out.set(name, { shape: [...weights.info(name).shape], data: await weights.readFloat32(name) });
  return out;
}

/**
 * ml-l3m's weights under ml-aim keys — from ml-l3m's raw layout, or from openWeights (which
 * already presents ml-l3m files under ml-aim keys) — with head `norm_1`s that are all zero
 * (how aimToL3m writes a head without the extra term) left out, so the keys are the playground's.
 */
export async function l3mToAim(weights: WeightSource): Promise<Map<string, StateTensor>> {
  const raw = isMlL3mLayout(weights.names.map(stripWrapperPrefixes));
  if (!raw && !weights.has('preprocessor.patchifier.proj.weight'))
    throw new AimCheckpointError(
      'not AIM weights: neither ml-l3m’s preprocessor.blocks.0.patchifier nor ml-aim’s preprocessor.patchifier',
    );
  const all = await readAll(raw ? mlL3mAsMlAim(weights) : weights);
  const extra = [...all.keys()].filter((k) => k.includes('.norm_extra.'));
  if (extra.length > 0 && extra.every((k) => all.get(k)!.data.every((x) => x === 0)))
    for (const k of extra) all.delete(k);
  return all;
}
