/**
 * Which checkpoint tensors an AIM export reads, with their shapes (checked before anything
 * is written, so a wrong config.json fails with the tensor and both shapes named), and what
 * the checkpoint holds: ml-aim's attentive probe, this project's prediction head.
 */
import { AimCheckpointError, type AimOnnxConfig, type WeightSource } from './checkpoint';

export type FeatureMode = 'probe-layers' | 'post-trunk-norm';

export interface Expected {
  name: string;
  shape: number[];
}

/** The probe head is present when its query is: then k, v, linear and (optionally) bn must be too. */
export function hasProbeHead(weights: WeightSource): boolean {
  return weights.has('head.cls_token');
}

/** This project's prediction head, described by its tensors. */
export interface PredictionHeadShape {
  width: number;
  depth: number;
  hidden: number;
  extraNorm: boolean;
  patchValues: number;
}

export function predictionHeadOf(weights: WeightSource): PredictionHeadShape | undefined {
  if (!weights.has('head.proj_in.weight') || !weights.has('head.proj_out.weight')) return undefined;
  let depth = 0;
  while (weights.has(`head.blocks.${depth}.norm.weight`)) depth++;
  const width = weights.info('head.proj_in.weight').shape[0];
  return {
    width,
    depth,
    hidden: depth ? weights.info('head.blocks.0.mlp.fc1.weight').shape[0] : 4 * width,
    extraNorm: weights.has('head.blocks.0.norm_extra.weight'),
    patchValues: weights.info('head.proj_out.weight').shape[0],
  };
}

export function featureModeOf(
  config: AimOnnxConfig,
  weights: WeightSource,
  requested?: FeatureMode,
): FeatureMode {
  if (requested) return requested;
  return config.probeLayersGiven || hasProbeHead(weights) ? 'probe-layers' : 'post-trunk-norm';
}

/** Every tensor the graph reads, with its shape; checked before anything is written. */
export function expectedTensors(
  c: AimOnnxConfig,
  weights: WeightSource,
  mode: FeatureMode,
): Expected[] {
  const D = c.embedDim;
  const blocks = mode === 'probe-layers' ? Math.max(...c.probeLayers) + 1 : c.numBlocks;
  const list: Expected[] = [
    {
      name: 'preprocessor.patchifier.proj.weight',
      shape: [D, c.channels, c.patchHeight, c.patchWidth],
    },
    { name: 'preprocessor.patchifier.proj.bias', shape: [D] },
    { name: 'preprocessor.patchifier.norm.weight', shape: [D] },
    { name: 'preprocessor.patchifier.norm.bias', shape: [D] },
  ];
  for (let l = 0; l < blocks; l++) {
    const b = `trunk.blocks.${l}`;
    list.push(
      { name: `${b}.norm_1.weight`, shape: [D] },
      { name: `${b}.norm_1.bias`, shape: [D] },
      { name: `${b}.attn.qkv.weight`, shape: [3 * D, D] },
      { name: `${b}.attn.proj.weight`, shape: [D, D] },
      { name: `${b}.norm_2.weight`, shape: [D] },
      { name: `${b}.norm_2.bias`, shape: [D] },
      { name: `${b}.mlp.fc1.weight`, shape: [c.mlpHidden, D] },
      { name: `${b}.mlp.fc2.weight`, shape: [D, c.mlpHidden] },
    );
  }
  if (mode === 'post-trunk-norm') {
    list.push(
      { name: 'trunk.post_trunk_norm.weight', shape: [D] },
      { name: 'trunk.post_trunk_norm.bias', shape: [D] },
    );
  }
  if (mode === 'probe-layers' && hasProbeHead(weights)) {
    const queries = weights.info('head.cls_token').shape[1] ?? 1;
    list.push(
      { name: 'head.cls_token', shape: [1, queries, D] },
      { name: 'head.k.weight', shape: [D, D] },
      { name: 'head.v.weight', shape: [D, D] },
      { name: 'head.linear.weight', shape: [c.numClasses, D] },
    );
    if (weights.has('head.bn.running_mean') || weights.has('head.bn.running_var')) {
      list.push(
        { name: 'head.bn.running_mean', shape: [D] },
        { name: 'head.bn.running_var', shape: [D] },
      );
    }
  }
  const predictor = mode === 'post-trunk-norm' ? predictionHeadOf(weights) : undefined;
  if (predictor) {
    const { width: W, hidden, patchValues: P } = predictor;
    list.push(
      { name: 'head.proj_in.weight', shape: [W, D] },
      { name: 'head.proj_in.bias', shape: [W] },
    );
    for (let j = 0; j < predictor.depth; j++) {
      const b = `head.blocks.${j}`;
      if (predictor.extraNorm) {
        list.push(
          { name: `${b}.norm_extra.weight`, shape: [W] },
          { name: `${b}.norm_extra.bias`, shape: [W] },
        );
      }
      list.push(
        { name: `${b}.norm.weight`, shape: [W] },
        { name: `${b}.norm.bias`, shape: [W] },
        { name: `${b}.mlp.fc1.weight`, shape: [hidden, W] },
        { name: `${b}.mlp.fc2.weight`, shape: [W, hidden] },
      );
    }
    list.push(
      { name: 'head.norm.weight', shape: [W] },
      { name: 'head.norm.bias', shape: [W] },
      { name: 'head.proj_out.weight', shape: [P, W] },
      { name: 'head.proj_out.bias', shape: [P] },
    );
  }
  // Optional biases (ml-aim's use_bias / qkv_bias / older probes' linear bias): shape-checked when present.
  const optional: Expected[] = [];
  for (let l = 0; l < blocks; l++) {
    const b = `trunk.blocks.${l}`;
    optional.push(
      { name: `${b}.attn.qkv.bias`, shape: [3 * D] },
      { name: `${b}.attn.proj.bias`, shape: [D] },
      { name: `${b}.mlp.fc1.bias`, shape: [c.mlpHidden] },
      { name: `${b}.mlp.fc2.bias`, shape: [D] },
    );
  }
  if (mode === 'probe-layers' && hasProbeHead(weights)) {
    optional.push(
      { name: 'head.k.bias', shape: [D] },
      { name: 'head.v.bias', shape: [D] },
      { name: 'head.linear.bias', shape: [c.numClasses] },
    );
  }
  return [...list, ...optional.filter((e) => weights.has(e.name))];
}

export function checkTensors(expected: Expected[], weights: WeightSource): void {
  const missing = expected.filter((e) => !weights.has(e.name)).map((e) => e.name);
  if (missing.length) {
    throw new AimCheckpointError(
      `checkpoint lacks ${missing.length} tensor(s) the config needs: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`,
    );
  }
  for (const e of expected) {
    const info = weights.info(e.name);
    if (info.shape.length !== e.shape.length || info.shape.some((d, i) => d !== e.shape[i])) {
      throw new AimCheckpointError(
        `${e.name} in ${info.file} is [${info.shape.join(', ')}], the config needs [${e.shape.join(', ')}] (wrong config.json?)`,
      );
    }
  }
}
