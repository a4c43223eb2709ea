/**
 * Which checkpoint tensors an AIM export reads, with their shapes (checked before anything
 * is written, so a wrong config.json fails with the tensor and both shapes named), and what
 * the checkpoint holds: ml-aim's attentive probe, this project's prediction head.
 */
import { aimTensorTable } from '../model/params';
import type { AimHeadShape, AimShape, PredictionHeadShape } from '../model/shape';
import {
  AimCheckpointError,
  shapeFromMlAimConfig,
  type AimOnnxConfig,
  type WeightSource,
} from './checkpoint';

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

/**
 * The part of the checkpoint an export reads, as a shape: the blocks up to the deepest probe
 * layer and the probe (probe-layers), or every block, post_trunk_norm and the prediction
 * head when there is one (post-trunk-norm). Biases ml-aim may have (use_bias, qkv_bias, an
 * older probe's linear bias) are in the table as optional.
 */
export function checkpointShape(
  c: AimOnnxConfig,
  weights: WeightSource,
  mode: FeatureMode,
): AimShape {
  const probeLayers = mode === 'probe-layers';
  const predictor = probeLayers ? undefined : predictionHeadOf(weights);
  let head: AimHeadShape = { kind: 'none' };
  if (predictor) head = { kind: 'prediction', ...predictor };
  else if (probeLayers && hasProbeHead(weights)) {
    head = {
      kind: 'probe',
      classes: c.numClasses,
      queries: weights.info('head.cls_token').shape[1] ?? 1,
      batchNorm: weights.has('head.bn.running_mean') || weights.has('head.bn.running_var'),
      kvBias: true,
      linearBias: true,
    };
  }
  return shapeFromMlAimConfig(c, {
    depth: probeLayers ? Math.max(...c.probeLayers) + 1 : c.numBlocks,
    postTrunkNorm: !probeLayers,
    linearBiases: true,
    head,
  });
}

/**
 * Every tensor the graph reads, with its shape (the parameter table of `checkpointShape`):
 * the required ones, then the optional ones the checkpoint has. Checked before anything is
 * written.
 */
export function expectedTensors(
  c: AimOnnxConfig,
  weights: WeightSource,
  mode: FeatureMode,
): Expected[] {
  const table = aimTensorTable(checkpointShape(c, weights, mode));
  const present = table.filter((t) => t.optional && weights.has(t.name));
  return [...table.filter((t) => !t.optional), ...present].map(({ name, shape }) => ({
    name,
    shape: [...shape],
  }));
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
