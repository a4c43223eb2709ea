/**
 * ml-l3m's state-dict layout for AIM v1 (its `MetaModel` built from configs/aimv1: a
 * `MultiBlock` preprocessor whose block 0 is the `ViTPreprocessor`, a `Transformer` trunk
 * whose attention is `GenericAttention` with separate q/k/v Linears, and a `SimpleDecoder`
 * head), and its correspondence with ml-aim's keys (which this project uses):
 *
 *   ml-l3m                                           ml-aim / this project
 *   preprocessor.blocks.0.patchifier.{proj,norm}.*   preprocessor.patchifier.{proj,norm}.*
 *   preprocessor.blocks.0.pos_embed [1, K, D]        (fixed sin-cos, not a parameter here)
 *   trunk.blocks.N.attn.{q,k,v}_proj.weight [D, D]   trunk.blocks.N.attn.qkv.weight [3D, D]
 *                                                    (rows [q; k; v])
 *   trunk.blocks.N.{norm_1,norm_2,attn.proj,mlp.fc1,mlp.fc2}.*, trunk.post_trunk_norm.*: same
 *   head.decoder_projection.*                        head.proj_in.*
 *   head.decoder_pos_embed [1, K, W]                 (fixed sin-cos)
 *   head.decoder_blocks.N.norm_1.*                   head.blocks.N.norm_extra.* (the x + LN1(x)
 *                                                    term ml-l3m's head always has)
 *   head.decoder_blocks.N.norm_2.*, .mlp.fc{1,2}.*   head.blocks.N.norm.*, .mlp.fc{1,2}.*
 *   head.decoder_norm.*, head.decoder_pred.*         head.norm.*, head.proj_out.*
 *
 * `module.` (DDP) and `_orig_mod.` (torch.compile) prefixes are dropped on reading.
 */
import { AimCheckpointError, type WeightInfo, type WeightSource } from './checkpoint';

const QKV = /^trunk\.blocks\.(\d+)\.attn\.qkv\.weight$/;
const SPLIT = /^trunk\.blocks\.(\d+)\.attn\.([qkv])_proj\.weight$/;

/** Pure renames (no tensor is split or joined), ml-aim → ml-l3m, tried in order. */
const RENAMES: readonly [RegExp, string][] = [
  [/^preprocessor\.patchifier\./, 'preprocessor.blocks.0.patchifier.'],
  [/^head\.proj_in\./, 'head.decoder_projection.'],
  [/^head\.blocks\.(\d+)\.norm_extra\./, 'head.decoder_blocks.$1.norm_1.'],
  [/^head\.blocks\.(\d+)\.norm\./, 'head.decoder_blocks.$1.norm_2.'],
  [/^head\.blocks\.(\d+)\.mlp\./, 'head.decoder_blocks.$1.mlp.'],
  [/^head\.norm\./, 'head.decoder_norm.'],
  [/^head\.proj_out\./, 'head.decoder_pred.'],
];

const BACK: readonly [RegExp, string][] = [
  [/^preprocessor\.blocks\.0\.patchifier\./, 'preprocessor.patchifier.'],
  [/^head\.decoder_projection\./, 'head.proj_in.'],
  [/^head\.decoder_blocks\.(\d+)\.norm_1\./, 'head.blocks.$1.norm_extra.'],
  [/^head\.decoder_blocks\.(\d+)\.norm_2\./, 'head.blocks.$1.norm.'],
  [/^head\.decoder_blocks\.(\d+)\.mlp\./, 'head.blocks.$1.mlp.'],
  [/^head\.decoder_norm\./, 'head.norm.'],
  [/^head\.decoder_pred\./, 'head.proj_out.'],
];

/** Fixed sin-cos tables ml-l3m keeps in its state dict; this project recomputes them. */
export const L3M_FIXED_BUFFERS = ['preprocessor.blocks.0.pos_embed', 'head.decoder_pos_embed'];

/** The ml-l3m key of an ml-aim key that is renamed only (not the fused qkv). */
export function l3mKeyOf(aimKey: string): string {
  for (const [pattern, replacement] of RENAMES)
    if (pattern.test(aimKey)) return aimKey.replace(pattern, replacement);
  return aimKey;
}

/** The ml-aim key of an ml-l3m key that is renamed only (not q/k/v). */
export function aimKeyOf(l3mKey: string): string {
  for (const [pattern, replacement] of BACK)
    if (pattern.test(l3mKey)) return l3mKey.replace(pattern, replacement);
  return l3mKey;
}

/** The fused ml-aim qkv key's block, or undefined. */
export function qkvBlock(aimKey: string): number | undefined {
  const m = QKV.exec(aimKey);
  return m ? Number(m[1]) : undefined;
}

export function splitQkvKeys(block: number): [string, string, string] {
  return ['q', 'k', 'v'].map((x) => `trunk.blocks.${block}.attn.${x}_proj.weight`) as [
    string,
    string,
    string,
  ];
}

/** A key without the wrappers' prefixes (`module.` from DDP, `_orig_mod.` from torch.compile). */
export function stripWrapperPrefixes(key: string): string {
  return key.replace(/^(module\.|_orig_mod\.)+/, '').replace(/\._orig_mod\./g, '.');
}

/** True when the names are ml-l3m's layout (its preprocessor block or separate q/k/v). */
export function isMlL3mLayout(names: readonly string[]): boolean {
  return names.some((raw) => {
    const n = stripWrapperPrefixes(raw);
    return n.startsWith('preprocessor.blocks.0.patchifier.') || SPLIT.test(n);
  });
}

/**
 * ml-l3m's tensors seen under ml-aim's keys: q/k/v read and stacked into one qkv, the rest
 * renamed, the fixed positional tables left out. Reads stay one tensor at a time.
 */
export function mlL3mAsMlAim(source: WeightSource): WeightSource {
  const plain = new Map<string, string>(); // ml-aim key → source key
  const qkv = new Map<string, [string, string, string]>();
  const stripped = new Map<string, string>(); // stripped → source key
  for (const name of source.names) {
    const key = stripWrapperPrefixes(name);
    if (stripped.has(key))
      throw new AimCheckpointError(`"${key}" appears twice in the ml-l3m checkpoint`);
    stripped.set(key, name);
  }
  for (const [key, name] of stripped) {
    if (L3M_FIXED_BUFFERS.includes(key)) continue;
    const m = SPLIT.exec(key);
    if (m) {
      const block = Number(m[1]);
      const parts = splitQkvKeys(block);
      const missing = parts.filter((p) => !stripped.has(p));
      if (missing.length)
        throw new AimCheckpointError(`ml-l3m checkpoint: ${missing.join(', ')} missing`);
      qkv.set(`trunk.blocks.${block}.attn.qkv.weight`, parts.map((p) => stripped.get(p)!) as never);
      continue;
    }
    if (/\.attn\.[qkv]_proj\.bias$/.test(key)) {
      throw new AimCheckpointError(
        `ml-l3m checkpoint: ${key} — ml-aim's attention has no q/k/v biases (qkv_bias: false)`,
      );
    }
    plain.set(aimKeyOf(key), name);
  }
  const names = [...plain.keys(), ...qkv.keys()];
  const info = (name: string): WeightInfo => {
    const parts = qkv.get(name);
    if (parts) {
      const infos = parts.map((p) => source.info(p));
      const [rows, cols] = infos[0].shape;
      if (infos.some((i) => i.shape.length !== 2 || i.shape[0] !== rows || i.shape[1] !== cols))
        throw new AimCheckpointError(`${name}: q/k/v weights of different shapes`);
      if (infos.some((i) => i.dtype !== infos[0].dtype))
        throw new AimCheckpointError(`${name}: q/k/v weights of different dtypes`);
      return { ...infos[0], name, shape: [3 * rows, cols] };
    }
    const from = plain.get(name);
    if (!from) throw new AimCheckpointError(`checkpoint has no tensor "${name}"`);
    return { ...source.info(from), name };
  };
  return {
    names,
    has: (name) => plain.has(name) || qkv.has(name),
    info,
    async readFloat32(name) {
      const parts = qkv.get(name);
      if (!parts) {
        const from = plain.get(name);
        if (!from) throw new AimCheckpointError(`checkpoint has no tensor "${name}"`);
        return source.readFloat32(from);
      }
      info(name); // checks the three agree
      const [q, k, v] = await Promise.all(parts.map((p) => source.readFloat32(p)));
      const out = new Float32Array(q.length * 3);
      out.set(q, 0);
      out.set(k, q.length);
      out.set(v, 2 * q.length);
      return out;
    },
  };
}
