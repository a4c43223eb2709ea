/**
 * An AIM model's shape: everything that fixes its tensors' names and sizes, and nothing else
 * (no ε, no training settings). params.ts builds the one parameter table from it; this
 * project's training configs (`shapeFromConfig`, `shapeFromPreset`) and ml-aim's config.json
 * (src/onnx/checkpoint.ts `shapeFromMlAimConfig`) are its constructors.
 */
import { headKindOf, patchValues, PRESETS, type AimConfig, type PresetName } from './config';

/** This project's (ml-l3m's) prediction head, as its tensors describe it. */
export interface PredictionHeadShape {
  width: number;
  depth: number;
  /** The MLP's hidden width (mlp_ratio · width). */
  hidden: number;
  /** ml-l3m's x + LN(x) term before each block's MLP. */
  extraNorm: boolean;
  /** proj_out's outputs: p·p·channels. */
  patchValues: number;
}

/** ml-aim's AttentionPoolingClassifier. */
export interface ProbeHeadShape {
  classes: number;
  /** cls_token's queries. */
  queries: number;
  /** BatchNorm1d running statistics before the pooling. */
  batchNorm: boolean;
  /** k and v with biases (ml-aim's qkv_bias). */
  kvBias: boolean;
  linearBias: boolean;
}

/**
 * The paper's "no head" (Table 3e): the post-trunk-normalised tokens projected straight to
 * the pixels, `head.proj_out` [p·p·channels, D] with bias.
 */
export interface PixelProjectionShape {
  patchValues: number;
}

export type AimHeadShape =
  | { kind: 'none' }
  | ({ kind: 'prediction' } & PredictionHeadShape)
  | ({ kind: 'projection' } & PixelProjectionShape)
  | ({ kind: 'probe' } & ProbeHeadShape);

export interface AimShape {
  imageHeight: number;
  imageWidth: number;
  patchHeight: number;
  patchWidth: number;
  channels: number;
  /** The trunk's width D. */
  width: number;
  /** Trunk blocks in the table (an export may stop at the deepest probe layer). */
  depth: number;
  heads: number;
  /** The trunk MLP's hidden width: int(mlp_ratio · D) in ml-aim. */
  mlpHidden: number;
  /** qkv, proj, fc1 and fc2 with biases (ml-aim's use_bias; AIM v1 has none). */
  linearBiases: boolean;
  /** trunk.post_trunk_norm (absent where the features are the probe layers' mean). */
  postTrunkNorm: boolean;
  head: AimHeadShape;
}

/**
 * The pre-training model this project trains: ml-aim's trunk and the prediction head — the
 * MLP head, or (the config's head 'none', the paper's "no head") the pixel projection; a
 * shape's `kind: 'none'` is no head tensors at all, the trunk alone.
 */
export function shapeFromConfig(c: AimConfig): AimShape {
  return {
    imageHeight: c.imageSize,
    imageWidth: c.imageSize,
    patchHeight: c.patchSize,
    patchWidth: c.patchSize,
    channels: c.channels,
    width: c.width,
    depth: c.depth,
    heads: c.heads,
    mlpHidden: c.mlpRatio * c.width,
    linearBiases: false,
    postTrunkNorm: true,
    head:
      headKindOf(c) === 'none'
        ? { kind: 'projection', patchValues: patchValues(c) }
        : {
            kind: 'prediction',
            width: c.head.width,
            depth: c.head.depth,
            hidden: c.mlpRatio * c.head.width,
            extraNorm: c.head.extraNormTerm,
            patchValues: patchValues(c),
          },
  };
}

export function shapeFromPreset(name: PresetName): AimShape {
  return shapeFromConfig(PRESETS[name]);
}

/** The trunk alone (no head), all of its blocks and its post-trunk norm. */
export function trunkShape(s: AimShape): AimShape {
  return { ...s, head: { kind: 'none' } };
}

/** Tokens per image. */
export function tokensOf(s: AimShape): number {
  return (s.imageHeight / s.patchHeight) * (s.imageWidth / s.patchWidth);
}
