/**
 * Back into the playground: an ml-l3m AIM v1 checkpoint (read through openWeights, which
 * presents ml-l3m's keys as ml-aim's) and the config.yaml it was trained with become this
 * project's checkpoint (safetensors under ml-aim keys, the model config in its metadata) and
 * an ml-aim config.json — what `npm run export` and the Inference tab's export read.
 */
import type { AimConfig } from '../model/config';
import { AimCheckpointError, type WeightSource } from '../onnx/checkpoint';
import { encodeCheckpoint } from '../training/checkpoint';
import { l3mToAim } from './stateDict';
import { parseYaml, resolveInterpolations, YamlFloat, type YamlMap, type YamlValue } from './yaml';

function at(root: YamlValue, path: string): YamlValue {
  let node = root;
  for (const part of path.split('.')) {
    if (Array.isArray(node) && /^\d+$/.test(part)) node = node[Number(part)];
    else if (
      node &&
      typeof node === 'object' &&
      !Array.isArray(node) &&
      !(node instanceof YamlFloat) &&
      part in node
    )
      node = node[part];
    else throw new AimCheckpointError(`config.yaml: ${path} is missing (not an AIM v1 config?)`);
  }
  return node;
}

function positiveInt(root: YamlValue, path: string): number {
  const v = at(root, path);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new AimCheckpointError(
      `config.yaml: ${path} must be a positive integer (got ${String(v)})`,
    );
  return v;
}

function eps(root: YamlValue, path: string, fallback: number): number {
  try {
    const v = at(root, path);
    return typeof v === 'number' ? v : fallback;
  } catch {
    return fallback;
  }
}

/** The model an ml-l3m AIM v1 config.yaml builds, as this project's AimConfig. */
export function aimConfigFromL3m(yamlText: string, extraNormTerm: boolean): AimConfig {
  const root = resolveInterpolations(parseYaml(yamlText) as YamlMap);
  const mm = 'model.meta_model';
  const patchifier = `${mm}.preprocessor.blocks.0.patchifier`;
  const head = `${mm}.head`;
  const imageSize = positiveInt(root, `${patchifier}.img_size`);
  const patchSize = positiveInt(root, `${patchifier}.patch_size`);
  const noHead = at(root, head) !== null && (at(root, head) as YamlMap).skip_projection === true;
  const trunkTarget = at(root, `${mm}.trunk._target_`);
  if (trunkTarget !== 'l3m.model.trunks.transformer.Transformer')
    throw new AimCheckpointError(
      `config.yaml: the trunk is ${String(trunkTarget)}, not AIM v1’s Transformer`,
    );
  const normPix = (at(root, 'loss') as YamlMap).norm_pix_loss;
  return {
    name: 'ml-l3m',
    imageSize,
    patchSize,
    channels: 3,
    width: positiveInt(root, `${mm}.trunk.embed_dim`),
    depth: positiveInt(root, `${mm}.trunk.num_blocks`),
    heads: positiveInt(root, `${mm}.trunk.attn_target.num_heads`),
    mlpRatio: positiveInt(root, `${mm}.trunk.mlp_ratio`),
    head: {
      kind: noHead ? 'none' : 'mlp',
      width: positiveInt(root, `${head}.embed_dim`),
      depth: noHead ? 0 : (at(root, `${head}.num_layers`) as number),
      extraNormTerm: !noHead && extraNormTerm,
    },
    targets: normPix === false ? 'raw' : 'normalized',
    trunkNormEps: eps(root, `${mm}.trunk.norm_layer.eps`, 1e-6),
    headNormEps: eps(root, `${head}.norm_layer.eps`, 1e-5),
    inferenceOnly: false,
  };
}

export interface ImportedCheckpoint {
  /** This project's checkpoint (safetensors), weights only. */
  checkpoint: Uint8Array;
  /** ml-aim's config.json for the same model. */
  configJson: Record<string, number>;
  config: AimConfig;
}

/** An ml-l3m checkpoint and its config.yaml as this project's checkpoint and an ml-aim config.json. */
export async function importL3mCheckpoint(
  weights: WeightSource,
  configYaml: string,
): Promise<ImportedCheckpoint> {
  const params = await l3mToAim(weights);
  const extra = [...params.keys()].some((k) => k.includes('.norm_extra.'));
  const config = aimConfigFromL3m(configYaml, extra);
  const qkv = params.get('trunk.blocks.0.attn.qkv.weight');
  if (qkv && qkv.shape[1] !== config.width)
    throw new AimCheckpointError(
      `the checkpoint’s width ${qkv.shape[1]} is not config.yaml’s ${config.width}: not the same model`,
    );
  const configJson = {
    img_size: config.imageSize,
    patch_size: config.patchSize,
    embed_dim: config.width,
    num_blocks: config.depth,
    num_heads: config.heads,
  };
  const checkpoint = encodeCheckpoint({
    params,
    step: 0,
    rngState: 0,
    modelConfig: config,
    runConfig: null,
  });
  return { checkpoint, configJson, config };
}
