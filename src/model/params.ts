/**
 * The parameter table of AIM (`aimTensorTable`, built from an AimShape, shape.ts): every
 * tensor's name, shape and kind — for the pre-training model this project trains, and for
 * the ml-aim checkpoints it exports (optional biases, the attentive probe). From it: the
 * trainable parameters with whether AdamW's weight decay applies and a seeded initialiser.
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
 * Without a head (the paper's Table 3e "none"; shape kind 'projection') only
 * head.proj_out.weight [p·p·3, D] and .bias [p·p·3] remain: ml-l3m's SimpleDecoder with
 * skip_projection, disable_pos_embed, no blocks and no post_decoder_norm is its decoder_pred
 * alone, reading the post-trunk-normalised tokens.
 *
 * The sin-cos positions of the trunk and the head are fixed buffers, not parameters.
 *
 * Initialisation follows the released AIM v1 config (MAE/ViT practice): xavier_uniform for
 * every Linear weight and for the patch-embedding conv viewed as [D, 3·p·p]. q, k and v are
 * three separate [D, D] Linear layers there, each xavier over its own shape (bound
 * √(6 / 2D)); this project stores them fused as qkv [3D, D] but initialises the three
 * blocks of rows as those three layers, not as one [3D, D] matrix (bound √(6 / 4D)). Zeros
 * for biases; ones/zeros for LayerNorm weight/bias. (ml-l3m's
 * `fan_in_depth_scaled` init of `decoder_pred` is overwritten by its own later xavier pass,
 * so xavier is what it trains with.)
 */
import type { AimConfig } from './config';
import { mulberry32 } from '../reference/random';
import { shapeFromConfig, trunkShape, type AimShape } from './shape';

/**
 * What a tensor is, which decides how it is initialised, decayed, generated and exported:
 * a Linear weight [out, in], the patch Conv2d weight, a bias, a LayerNorm's weight or bias,
 * the probe's query (cls_token) or its BatchNorm running statistics.
 */
export type TensorKind =
  | 'linear'
  | 'conv'
  | 'bias'
  | 'norm-weight'
  | 'norm-bias'
  | 'query'
  | 'running-mean'
  | 'running-var';

/** One row of the parameter table. */
export interface TensorSpec {
  /** State-dict key. */
  name: string;
  shape: readonly number[];
  kind: TensorKind;
  /** ml-aim's trunk (preprocessor, blocks, post-trunk norm) or a head. */
  part: 'trunk' | 'head';
  /**
   * ml-aim's builders may leave it out (use_bias, qkv_bias, an older probe's linear bias):
   * an export checks its shape only when the checkpoint has it.
   */
  optional: boolean;
  /**
   * Linear layers stacked along the rows of one tensor (the fused qkv: 3), each initialised
   * over its own [out / stacked, in] shape, as the separate layers ml-aim builds.
   */
  stacked?: number;
}

/**
 * Every tensor of an AIM model of shape `s`, in state-dict order: the preprocessor, the
 * blocks, post_trunk_norm, then the head (the probe's BatchNorm statistics first: the
 * order its graph reads them). The one table that initialisation, the exporter's checks,
 * random checkpoints and the inference memory plan read.
 */
export function aimTensorTable(s: AimShape): TensorSpec[] {
  const table: TensorSpec[] = [];
  let part: TensorSpec['part'] = 'trunk';
  const add = (name: string, shape: number[], kind: TensorKind, optional = false) =>
    table.push({ name, shape, kind, part, optional });
  const norm = (prefix: string, n: number) => {
    add(`${prefix}.weight`, [n], 'norm-weight');
    add(`${prefix}.bias`, [n], 'norm-bias');
  };
  /** A Linear layer; its bias is present (`true`), absent, or optional. */
  const linear = (
    prefix: string,
    out: number,
    inDim: number,
    bias: boolean | 'optional',
    stacked = 1,
  ) => {
    add(`${prefix}.weight`, [out, inDim], 'linear');
    if (stacked > 1) table[table.length - 1].stacked = stacked;
    if (bias) add(`${prefix}.bias`, [out], 'bias', bias === 'optional');
  };
  const D = s.width;
  const trunkBias = s.linearBiases && 'optional';
  add('preprocessor.patchifier.proj.weight', [D, s.channels, s.patchHeight, s.patchWidth], 'conv');
  add('preprocessor.patchifier.proj.bias', [D], 'bias');
  norm('preprocessor.patchifier.norm', D);
  for (let l = 0; l < s.depth; l++) {
    const b = `trunk.blocks.${l}`;
    norm(`${b}.norm_1`, D);
    linear(`${b}.attn.qkv`, 3 * D, D, trunkBias, 3);
    linear(`${b}.attn.proj`, D, D, trunkBias);
    norm(`${b}.norm_2`, D);
    linear(`${b}.mlp.fc1`, s.mlpHidden, D, trunkBias);
    linear(`${b}.mlp.fc2`, D, s.mlpHidden, trunkBias);
  }
  if (s.postTrunkNorm) norm('trunk.post_trunk_norm', D);
  part = 'head';
  const h = s.head;
  if (h.kind === 'prediction') {
    const W = h.width;
    linear('head.proj_in', W, D, true);
    for (let j = 0; j < h.depth; j++) {
      const b = `head.blocks.${j}`;
      if (h.extraNorm) norm(`${b}.norm_extra`, W);
      norm(`${b}.norm`, W);
      linear(`${b}.mlp.fc1`, h.hidden, W, false);
      linear(`${b}.mlp.fc2`, W, h.hidden, false);
    }
    norm('head.norm', W);
    linear('head.proj_out', h.patchValues, W, true);
  } else if (h.kind === 'projection') {
    linear('head.proj_out', h.patchValues, D, true);
  } else if (h.kind === 'probe') {
    if (h.batchNorm) {
      add('head.bn.running_mean', [D], 'running-mean');
      add('head.bn.running_var', [D], 'running-var');
    }
    add('head.cls_token', [1, h.queries, D], 'query');
    linear('head.k', D, D, h.kvBias && 'optional');
    linear('head.v', D, D, h.kvBias && 'optional');
    linear('head.linear', h.classes, D, h.linearBias && 'optional');
  }
  return table;
}

export function paramSize(spec: { shape: readonly number[] }): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

export type ParamInit = 'xavier' | 'zeros' | 'ones';

/** A trainable parameter: a table row with how it is initialised and decayed. */
export interface ParamSpec extends TensorSpec {
  /** AdamW weight decay applies (Linear and conv weights only, as ml-l3m's recipe). */
  decay: boolean;
  init: ParamInit;
  /**
   * For xavier: fan_in and fan_out of the weight viewed as a [out, in] matrix — of each
   * stacked layer's [out / stacked, in] for a fused tensor.
   */
  fanIn?: number;
  fanOut?: number;
}

function paramSpec(t: TensorSpec): ParamSpec {
  if (t.kind === 'linear' || t.kind === 'conv') {
    // The conv [D, 3, p, p] is xavier-initialised as the [D, 3·p·p] matrix it multiplies by.
    // A fused qkv is three layers of [D, D]: each one's fan_out is D, not 3D.
    const fanOut = t.shape[0] / (t.stacked ?? 1);
    return { ...t, decay: true, init: 'xavier', fanIn: paramSize(t) / t.shape[0], fanOut };
  }
  return { ...t, decay: false, init: t.kind === 'norm-weight' ? 'ones' : 'zeros' };
}

/** Every parameter of the pre-training model: trunk, then head. */
export function paramSpecs(c: AimConfig): ParamSpec[] {
  return aimTensorTable(shapeFromConfig(c)).map(paramSpec);
}

/** The trunk's keys (ml-aim's), in state-dict order: preprocessor, blocks, post-trunk norm. */
export function trunkParamSpecs(c: AimConfig): ParamSpec[] {
  return aimTensorTable(trunkShape(shapeFromConfig(c))).map(paramSpec);
}

/** The prediction head's keys (documented at the top of this file). */
export function headParamSpecs(c: AimConfig): ParamSpec[] {
  const table = aimTensorTable(shapeFromConfig(c));
  return table.filter((t) => t.part === 'head').map(paramSpec);
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
