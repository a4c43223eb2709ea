/**
 * The parameter table of the AIM v1 pre-training model: every tensor's name, shape, whether
 * AdamW's weight decay applies to it, and a seeded initialiser.
 *
 * Trunk names are ml-aim's state-dict keys, with ml-aim's layouts (a Linear weight is
 * [out, in]; the patch Conv2d weight is [D, 3, p, p]), so a trunk moves between this project
 * and PyTorch unchanged. ml-aim publishes no pre-training head; its keys here follow the
 * same conventions and the head of ml-l3m's AIM v1 recipe (`SimpleDecoder`):
 *
 *   head.proj_in.weight [W, D], head.proj_in.bias [W]     ml-l3m `decoder_projection`
 *   head.blocks.N.norm_extra.weight/bias [W]              ml-l3m's `norm_1` (the x + LN(x)
 *                                                         term; only when extraNormTerm)
 *   head.blocks.N.norm.weight/bias [W]                    the MLP's pre-norm (ml-l3m `norm_2`)
 *   head.blocks.N.mlp.fc1.weight [4W, W], .fc2.weight [W, 4W]   no biases (the paper's)
 *   head.norm.weight/bias [W]                             ml-l3m `decoder_norm`
 *   head.proj_out.weight [p·p·3, W], .bias [p·p·3]        ml-l3m `decoder_pred`; outputs in
 *                                                         (row, col, channel) order
 *
 * The sin-cos positions of the trunk and the head are fixed buffers, not parameters.
 *
 * Initialisation follows MAE/ViT practice (what ml-l3m does for AIM v1): xavier_uniform for
 * every Linear weight (qkv as one [3D, D] matrix) and for the patch-embedding conv viewed
 * as [D, 3·p·p]; zeros for biases; ones/zeros for LayerNorm weight/bias. (ml-l3m's
 * `fan_in_depth_scaled` init of `decoder_pred` is overwritten by its own later xavier pass,
 * so xavier is what it trains with.)
 */
import { patchValues, type AimConfig } from './config';
import { mulberry32 } from '../reference/random';

export type ParamInit = 'xavier' | 'zeros' | 'ones';

export interface ParamSpec {
  /** State-dict key. */
  name: string;
  shape: readonly number[];
  /** AdamW weight decay applies (Linear and conv weights only, as ml-l3m's recipe). */
  decay: boolean;
  init: ParamInit;
  /** For xavier: fan_in and fan_out of the weight viewed as a [out, in] matrix. */
  fanIn?: number;
  fanOut?: number;
}

export function paramSize(spec: ParamSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

function linear(name: string, out: number, inDim: number): ParamSpec {
  return { name, shape: [out, inDim], decay: true, init: 'xavier', fanIn: inDim, fanOut: out };
}

function bias(name: string, n: number): ParamSpec {
  return { name, shape: [n], decay: false, init: 'zeros' };
}

function norm(prefix: string, n: number): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [n], decay: false, init: 'ones' },
    { name: `${prefix}.bias`, shape: [n], decay: false, init: 'zeros' },
  ];
}

/** The trunk's keys (ml-aim's), in state-dict order: preprocessor, blocks, post-trunk norm. */
export function trunkParamSpecs(c: AimConfig): ParamSpec[] {
  const d = c.width;
  const hidden = c.mlpRatio * d;
  const p = c.patchSize;
  const specs: ParamSpec[] = [
    {
      name: 'preprocessor.patchifier.proj.weight',
      shape: [d, c.channels, p, p],
      decay: true,
      init: 'xavier',
      fanIn: c.channels * p * p,
      fanOut: d,
    },
    bias('preprocessor.patchifier.proj.bias', d),
    ...norm('preprocessor.patchifier.norm', d),
  ];
  for (let l = 0; l < c.depth; l++) {
    const b = `trunk.blocks.${l}`;
    specs.push(
      ...norm(`${b}.norm_1`, d),
      linear(`${b}.attn.qkv.weight`, 3 * d, d),
      linear(`${b}.attn.proj.weight`, d, d),
      ...norm(`${b}.norm_2`, d),
      linear(`${b}.mlp.fc1.weight`, hidden, d),
      linear(`${b}.mlp.fc2.weight`, d, hidden),
    );
  }
  specs.push(...norm('trunk.post_trunk_norm', d));
  return specs;
}

/** The prediction head's keys (documented at the top of this file). */
export function headParamSpecs(c: AimConfig): ParamSpec[] {
  const w = c.head.width;
  const hidden = c.mlpRatio * w;
  const out = patchValues(c);
  const specs: ParamSpec[] = [
    linear('head.proj_in.weight', w, c.width),
    bias('head.proj_in.bias', w),
  ];
  for (let j = 0; j < c.head.depth; j++) {
    const b = `head.blocks.${j}`;
    if (c.head.extraNormTerm) specs.push(...norm(`${b}.norm_extra`, w));
    specs.push(
      ...norm(`${b}.norm`, w),
      linear(`${b}.mlp.fc1.weight`, hidden, w),
      linear(`${b}.mlp.fc2.weight`, w, hidden),
    );
  }
  specs.push(
    ...norm('head.norm', w),
    linear('head.proj_out.weight', out, w),
    bias('head.proj_out.bias', out),
  );
  return specs;
}

/** Every parameter of the pre-training model: trunk, then head. */
export function paramSpecs(c: AimConfig): ParamSpec[] {
  return [...trunkParamSpecs(c), ...headParamSpecs(c)];
}

/** FNV-1a of a key, so each tensor's random stream depends only on (seed, its name). */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * One parameter's initial values, f32. xavier_uniform: U(−a, a) with a = √(6 / (fan_in +
 * fan_out)), drawn from mulberry32(seed ⊕ hash(name)) in storage order — the same values for
 * the same (seed, name) whatever else the config contains.
 */
export function initParameter(spec: ParamSpec, seed: number): Float32Array {
  const values = new Float32Array(paramSize(spec));
  if (spec.init === 'ones') values.fill(1);
  if (spec.init !== 'xavier') return values;
  const bound = Math.sqrt(6 / (spec.fanIn! + spec.fanOut!));
  const next = mulberry32((seed ^ hashName(spec.name)) >>> 0);
  for (let i = 0; i < values.length; i++) values[i] = (2 * next() - 1) * bound;
  return values;
}

/** A freshly initialised model: key → f32 values (reproducible from `seed`). */
export function initParameters(c: AimConfig, seed: number): Map<string, Float32Array> {
  return new Map(paramSpecs(c).map((spec) => [spec.name, initParameter(spec, seed)]));
}

/** Checks that `values` holds exactly the table's keys with the right sizes; returns problems. */
export function checkParameterValues(
  specs: readonly ParamSpec[],
  values: ReadonlyMap<string, ArrayLike<number>>,
): string[] {
  const problems: string[] = [];
  const known = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    const v = values.get(spec.name);
    if (!v) problems.push(`missing parameter ${spec.name}`);
    else if (v.length !== paramSize(spec))
      problems.push(
        `${spec.name} has ${v.length} values, expected ${paramSize(spec)} [${spec.shape.join(', ')}]`,
      );
  }
  for (const name of values.keys())
    if (!known.has(name)) problems.push(`unknown parameter ${name}`);
  return problems;
}
