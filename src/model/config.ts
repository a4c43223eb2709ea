/**
 * AIM v1 model configurations as data. The trunk follows ml-aim; the prediction head
 * follows ml-l3m's AIM v1 recipe (see ../shared/reference/ml-aim.md).
 */
import { PIXEL_TARGETS, type PixelTargets } from '../reference/patchMseLoss';

export { PIXEL_TARGETS, type PixelTargets };

/**
 * The prediction head (the paper's Table 3e): ml-l3m's MLP head, or none — the trunk's
 * post-trunk-normalised output projected straight to the p·p·3 pixels by one Linear with
 * bias (ml-l3m's SimpleDecoder with skip_projection, disable_pos_embed, no blocks and no
 * post_decoder_norm keeps only its `decoder_pred`, keyed `head.proj_out` here as in the MLP
 * head). The paper's third variant, a Transformer head, is not built.
 */
export const HEAD_KINDS = ['mlp', 'none'] as const;
export type HeadKind = (typeof HEAD_KINDS)[number];

export interface AimHeadConfig {
  /** Absent: 'mlp' (configs and checkpoints written before the choice existed). */
  kind?: HeadKind;
  /** Width of the head's residual MLP blocks (2048 in the paper). */
  width: number;
  /** Number of residual MLP blocks (12 in the paper). */
  depth: number;
  /**
   * ml-l3m builds each head block as a transformer block whose attention is the identity,
   * computing x + LN1(x) before x + MLP(LN2(x)); the paper uses only x + MLP(LN(x)).
   */
  extraNormTerm: boolean;
}

export interface AimConfig {
  name: string;
  imageSize: number;
  patchSize: number;
  channels: 3;
  width: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  head: AimHeadConfig;
  /** Absent: 'normalized' (configs and checkpoints written before the choice existed). */
  targets?: PixelTargets;
  /** ml-aim's LayerNorms (patch norm, blocks, post-trunk norm). */
  trunkNormEps: number;
  /** ml-l3m's head LayerNorms. */
  headNormEps: number;
  /** Presets too large to train in a tab (parameter counts, memory estimates, ONNX only). */
  inferenceOnly: boolean;
}

const TRUNK_EPS = 1e-6;
const HEAD_EPS = 1e-5;

function preset(
  name: string,
  imageSize: number,
  patchSize: number,
  width: number,
  depth: number,
  heads: number,
  head: Omit<AimHeadConfig, 'extraNormTerm'>,
  inferenceOnly = false,
): AimConfig {
  return {
    name,
    imageSize,
    patchSize,
    channels: 3,
    width,
    depth,
    heads,
    mlpRatio: 4,
    head: { ...head, extraNormTerm: false },
    trunkNormEps: TRUNK_EPS,
    headNormEps: HEAD_EPS,
    inferenceOnly,
  };
}

export const PRESETS = {
  /** CI-sized: trains real steps on SwiftShader in seconds. */
  'aim-micro': preset('aim-micro', 16, 4, 64, 2, 2, { width: 64, depth: 1 }),
  /** What a laptop GPU trains in minutes (≈ 4.8 M parameters). */
  'aim-tiny': preset('aim-tiny', 32, 4, 192, 6, 6, { width: 256, depth: 4 }),
  'aim-small': preset('aim-small', 64, 8, 384, 12, 6, { width: 512, depth: 6 }),
  'aim-600M': preset('aim-600M', 224, 14, 1536, 24, 12, { width: 2048, depth: 12 }, true),
  'aim-1B': preset('aim-1B', 224, 14, 2048, 24, 16, { width: 2048, depth: 12 }, true),
  'aim-3B': preset('aim-3B', 224, 14, 3072, 24, 24, { width: 2048, depth: 12 }, true),
  'aim-7B': preset('aim-7B', 224, 14, 4096, 32, 32, { width: 2048, depth: 12 }, true),
} as const satisfies Record<string, AimConfig>;

export type PresetName = keyof typeof PRESETS;

export function gridSize(c: AimConfig): number {
  return c.imageSize / c.patchSize;
}

export function numPatches(c: AimConfig): number {
  return gridSize(c) ** 2;
}

/** Values per target patch: p·p·3. */
export function patchValues(c: AimConfig): number {
  return c.patchSize * c.patchSize * c.channels;
}

export function headDim(c: AimConfig): number {
  return c.width / c.heads;
}

export function headKindOf(c: AimConfig): HeadKind {
  return c.head.kind ?? 'mlp';
}

export function pixelTargetsOf(c: AimConfig): PixelTargets {
  return c.targets ?? 'normalized';
}

/**
 * `c` with its optional choices written out, so that two configs that train the same model
 * compare equal whether or not they name the defaults (a checkpoint from before the choices
 * existed resumes under the settings that reproduce it).
 */
export function explicitConfig(c: AimConfig): AimConfig {
  return { ...c, head: { ...c.head, kind: headKindOf(c) }, targets: pixelTargetsOf(c) };
}

/** Whether `json` (a checkpoint's model_config) has an AimConfig's fields. */
export function isAimConfig(json: unknown): json is AimConfig {
  if (typeof json !== 'object' || json === null) return false;
  const c = json as Record<string, unknown>;
  const numbers = ['imageSize', 'patchSize', 'width', 'depth', 'heads', 'mlpRatio'];
  return (
    numbers.every((k) => typeof c[k] === 'number') && typeof c.head === 'object' && c.head !== null
  );
}

/** Whether `a` and `b` are the same model (its shape, ε, targets). */
export function sameModelConfig(a: AimConfig, b: AimConfig): boolean {
  const canonical = (c: AimConfig) => {
    const e = explicitConfig(c);
    // Key order fixed, so the comparison does not depend on how either was built.
    return JSON.stringify(e, Object.keys(e).concat(Object.keys(e.head)).sort());
  };
  return canonical(a) === canonical(b);
}

/** One problem of a configuration: the sentence, and which of its numbers it is about. */
export interface ConfigProblem {
  about: 'shape' | 'width' | 'heads' | 'depth' | 'headWidth' | 'headDepth' | 'choice';
  message: string;
}

/** Problems with a configuration, each with what it is about; empty when it is valid. */
export function configProblems(c: AimConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (about: ConfigProblem['about'], message: string) => problems.push({ about, message });
  const positive = ['imageSize', 'patchSize', 'width', 'depth', 'heads'] as const;
  for (const key of positive) {
    if (!Number.isInteger(c[key]) || c[key] < 1)
      add(
        key === 'width' || key === 'depth' || key === 'heads' ? key : 'shape',
        `${key} must be a positive integer (got ${c[key]}).`,
      );
  }
  if (c.imageSize % c.patchSize !== 0) {
    add('shape', `Image size ${c.imageSize} is not divisible by the patch size ${c.patchSize}.`);
  } else if (numPatches(c) < 2) {
    add(
      'shape',
      'An image must have at least 2 patches: there is nothing to predict autoregressively.',
    );
  }
  if (c.width % c.heads !== 0)
    add('width', `Trunk width ${c.width} is not divisible by ${c.heads} heads.`);
  else if (headDim(c) > 128)
    add(
      'heads',
      `Head dimension ${headDim(c)} (trunk width ${c.width} ÷ ${c.heads} heads) is above the attention kernel's 128: use more heads.`,
    );
  // The 2-D sin-cos embedding splits the width into 4 equal parts (sin/cos × column/row).
  if (c.width % 4 !== 0)
    add('width', `Trunk width ${c.width} must be divisible by 4 for the 2-D sin-cos positions.`);
  if (!(HEAD_KINDS as readonly unknown[]).includes(headKindOf(c)))
    add('choice', `Unknown head "${String(c.head.kind)}": use ${HEAD_KINDS.join(' or ')}.`);
  if (!(PIXEL_TARGETS as readonly unknown[]).includes(pixelTargetsOf(c)))
    add('choice', `Unknown targets "${String(c.targets)}": use ${PIXEL_TARGETS.join(' or ')}.`);
  // Without a head its width and depth are not used, so they cannot be wrong.
  if (headKindOf(c) === 'mlp') {
    if (!Number.isInteger(c.head.width) || c.head.width < 4 || c.head.width % 4 !== 0)
      add(
        'headWidth',
        `Head width ${c.head.width} must be a positive multiple of 4 (its sin-cos positions).`,
      );
    if (!Number.isInteger(c.head.depth) || c.head.depth < 0)
      add('headDepth', 'Head depth must be ≥ 0.');
  }
  return problems;
}

/** Problems with a configuration, as sentences for the user; empty when it is valid. */
export function validateConfig(c: AimConfig): string[] {
  return configProblems(c).map((p) => p.message);
}

/** Trainable parameters of the pre-training model (trunk + prediction head). */
export function parameterCount(c: AimConfig): { trunk: number; head: number; total: number } {
  const d = c.width;
  const hidden = c.mlpRatio * d;
  const patchIn = patchValues(c);
  const patchEmbed = patchIn * d + d + 2 * d; // conv weight + bias, patch LayerNorm
  const block = 2 * d + 3 * d * d + d * d + 2 * d + 2 * d * hidden; // norm_1, qkv, proj, norm_2, fc1, fc2
  const trunk = patchEmbed + c.depth * block + 2 * d; // + post-trunk norm
  if (headKindOf(c) === 'none') {
    const head = d * patchIn + patchIn; // proj_out straight from the trunk's width
    return { trunk, head, total: trunk + head };
  }
  const w = c.head.width;
  const headBlock = (c.head.extraNormTerm ? 4 : 2) * w + 2 * w * (c.mlpRatio * w);
  const head = d * w + w + c.head.depth * headBlock + 2 * w + w * patchIn + patchIn;
  return { trunk, head, total: trunk + head };
}
