/**
 * AIM checkpoint → ONNX (opset 17) for inference with bidirectional attention:
 *
 *   images [N, C, H, W] (preprocessed, NCHW, dynamic N)
 *   → Conv(kernel = stride = patch, bias) → [N, K, D] → LayerNormalization(ε 1e-6)
 *   → + 2-D sin-cos positions (a constant)                          ml-aim's preprocessor
 *   → blocks 0…L: x + proj(attn(LN₁ x)), then x + fc2(GELU(fc1(LN₂ x)))  (softmax attention
 *     from plain MatMul/Softmax ops, exact erf GELU; nothing past block L is emitted)
 *   → features [N, K, D]
 *   → attentive probe → logits [N, classes]                        when the checkpoint has one
 *
 * `features` is what ml-aim feeds its probe: the mean of the probe layers' block outputs
 * (AverageLayers; *not* post_trunk_norm'd), with L = max(probe_layers) — for the 7B's best
 * layers 20 of 32 blocks. For a checkpoint with neither `probe_layers` in its config nor a
 * probe head (this project's own pre-training checkpoints) it is instead the whole trunk's
 * output through post_trunk_norm, the representation ml-aim's trunk ends with.
 *
 * This project's checkpoints also carry the ml-l3m prediction head (`head.proj_in`, …; see
 * src/model/params.ts); with post-trunk-norm features it is exported too, as output
 * `patch_predictions` [N, K, p·p·3]: for each token the predicted next patch in raster
 * order, values (row, col, channel) in normalised-pixel space (with full attention, as at
 * evaluation). Its shape (width, depth, the optional extra norm) is read from the tensors.
 *
 * The probe (ml-aim's AttentionPoolingClassifier): eval-mode BatchNorm1d without affine
 * ((x − mean)·(var + 1e-6)^-½, both constants folded in float64), one learnable query per
 * `cls_token` row (pre-scaled by head_dim^-½ in float64) attending over k(x), v(x) with the
 * trunk's heads, the mean over queries, then `linear` (+ its bias when present).
 *
 * Weight formats: fp32; fp16 (checkpoint tensors stored as binary16 in the external data and
 * Cast to f32 in the graph, so arithmetic stays f32 and runtimes without shader-f16 run it;
 * onnxruntime may fold those Casts into f32 copies at load, so fp16 halves download and disk,
 * not necessarily GPU memory; derived constants — positions, folded BatchNorm, scaled query —
 * stay f32);
 * int4 (every Linear — qkv, proj, fc1, fc2, probe k/v/linear — as com.microsoft.MatMulNBits,
 * bits 4, block 32, asymmetric with packed zero points; the patch-embedding Conv, norms,
 * positions and probe constants stay f32, < 1 % of the bytes).
 */
import { sinCosPositionalEmbedding } from '../reference/posembed';
import { attentionProbe, gelu, predictionHead, scalarIndex } from './aimHeads';
import {
  checkTensors,
  expectedTensors,
  featureModeOf,
  hasProbeHead,
  predictionHeadOf,
  type FeatureMode,
} from './aimTensors';
import { gridOf, type AimOnnxConfig, type WeightSource } from './checkpoint';
import { ExternalDataWriter, DEFAULT_MAX_SHARD_BYTES, type DataSink } from './externalData';
import { DataType, GraphBuilder, type TensorType } from './graph';
import { WeightEmitter, type WeightFormat } from './weightEmitter';

export { WEIGHT_FORMATS, type WeightFormat } from './weightEmitter';
export { featureModeOf, hasProbeHead, predictionHeadOf, type FeatureMode } from './aimTensors';

export interface ExportOptions {
  format: WeightFormat;
  /** External-data shard limit in bytes (default 1 GiB; must stay below 2 GB). */
  maxShardBytes?: number;
  /** Default `model.onnx`; shards are `<name>.data_0`, `<name>.data_1`, … */
  modelFileName?: string;
  /** Default: probe layers when the config names them or the checkpoint has a probe. */
  features?: FeatureMode;
  /** Written into every shard's tag and the metadata; default a random id. */
  exportId?: string;
  /** Called after each weight tensor is written. */
  onTensor?: (name: string, done: number, total: number) => void;
}

export interface ExportResult {
  modelFile: string;
  /** model file first, then the shards, with their sizes in bytes. */
  files: { name: string; bytes: number }[];
  format: WeightFormat;
  featureMode: FeatureMode;
  /** Trunk blocks in the graph (max probe layer + 1, or all). */
  blocks: number;
  hasLogits: boolean;
  hasPatchPredictions: boolean;
  outputs: string[];
}

const MAX_ONNX_SHARD = 2 ** 31 - 1;

/**
 * Writes `<modelFileName>` and its external-data shards to `sink`. Nothing is held in memory
 * beyond one tensor (in its source and output forms) and the graph itself.
 */
export async function exportAimOnnx(
  checkpoint: { config: AimOnnxConfig; weights: WeightSource },
  sink: DataSink,
  options: ExportOptions,
): Promise<ExportResult> {
  const { config: c, weights } = checkpoint;
  const format = options.format;
  if (!['fp32', 'fp16', 'int4'].includes(format))
    throw new RangeError(`unknown format ${String(format)}`);
  const maxShard = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (maxShard > MAX_ONNX_SHARD)
    throw new RangeError(`shard limit ${maxShard} must stay below 2 GB`);
  const modelFile = options.modelFileName ?? 'model.onnx';
  const mode = featureModeOf(c, weights, options.features);
  const expected = expectedTensors(c, weights, mode);
  checkTensors(expected, weights);
  const withProbe = mode === 'probe-layers' && hasProbeHead(weights);

  const writer = new ExternalDataWriter(sink, `${modelFile}.data`, maxShard, options.exportId);
  const g = new GraphBuilder(writer);
  const W = new WeightEmitter(g, weights, format, expected.length, options.onTensor);
  const D = c.embedDim;
  const H = c.numHeads;
  const dh = D / H;
  const grid = gridOf(c);
  const K = grid.tokens;
  const eps = { float: c.normEps };
  const layerNorm = async (x: string, prefix: string, output?: string) =>
    g.op(
      'LayerNormalization',
      [x, await W.param(`${prefix}.weight`, [D]), await W.param(`${prefix}.bias`, [D])],
      { axis: -1, epsilon: eps },
      { output, hint: prefix },
    );

  // Preprocessor: patch embedding as a strided Conv, tokens in raster order.
  const conv = g.op(
    'Conv',
    [
      'images',
      await W.param('preprocessor.patchifier.proj.weight', [
        D,
        c.channels,
        c.patchHeight,
        c.patchWidth,
      ]),
      await W.param('preprocessor.patchifier.proj.bias', [D]),
    ],
    { kernel_shape: [c.patchHeight, c.patchWidth], strides: [c.patchHeight, c.patchWidth] },
    { hint: 'patch_embed' },
  );
  const flat = g.op('Reshape', [conv, g.int64([0, D, K])]);
  const patches = g.op('Transpose', [flat], { perm: [0, 2, 1] });
  const normed = await layerNorm(patches, 'preprocessor.patchifier.norm');
  const table = Float32Array.from(sinCosPositionalEmbedding(grid.h, grid.w, D));
  const pos = await W.derived('pos_embed', table, [1, K, D]);
  let x = g.op('Add', [normed, pos], {}, { hint: 'tokens' });

  const lastBlock = mode === 'probe-layers' ? Math.max(...c.probeLayers) : c.numBlocks - 1;
  const scale = g.scalar(1 / Math.sqrt(dh), 'attn_scale');
  const layerOutputs: string[] = [];
  for (let l = 0; l <= lastBlock; l++) {
    const b = `trunk.blocks.${l}`;
    const h1 = await layerNorm(x, `${b}.norm_1`);
    const qkv = await W.linear(h1, `${b}.attn.qkv`, 3 * D, D);
    // [N, K, 3D] → [N, K, 3, H, dh] → [3, N, H, K, dh]: rows of qkv.weight are [q; k; v], heads contiguous.
    const split = g.op('Transpose', [g.op('Reshape', [qkv, g.int64([0, 0, 3, H, dh])])], {
      perm: [2, 0, 3, 1, 4],
    });
    const q = g.op('Mul', [
      g.op('Gather', [split, scalarIndex(g, 0)], { axis: 0 }, { hint: 'q' }),
      scale,
    ]);
    const k = g.op('Gather', [split, scalarIndex(g, 1)], { axis: 0 }, { hint: 'k' });
    const v = g.op('Gather', [split, scalarIndex(g, 2)], { axis: 0 }, { hint: 'v' });
    const scores = g.op(
      'MatMul',
      [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })],
      {},
      { hint: 'scores' },
    );
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const attended = g.op('MatMul', [probs, v]);
    const merged = g.op('Reshape', [
      g.op('Transpose', [attended], { perm: [0, 2, 1, 3] }),
      g.int64([0, 0, D]),
    ]);
    const mid = g.op(
      'Add',
      [x, await W.linear(merged, `${b}.attn.proj`, D, D)],
      {},
      { hint: `${b}.mid` },
    );
    const h2 = await layerNorm(mid, `${b}.norm_2`);
    const pre = await W.linear(h2, `${b}.mlp.fc1`, c.mlpHidden, D);
    const act = gelu(g, pre);
    x = g.op(
      'Add',
      [mid, await W.linear(act, `${b}.mlp.fc2`, D, c.mlpHidden)],
      {},
      { hint: `${b}.out` },
    );
    layerOutputs.push(x);
  }

  let features: string;
  if (mode === 'probe-layers') {
    // ml-aim: torch.stack(layers, -1).mean(-1), i.e. the sum divided by the count. Add/Div
    // rather than ONNX Mean, which not every onnxruntime-web EP implements.
    const picked = c.probeLayers.map((l) => layerOutputs[l]);
    let sum = picked[0];
    for (const t of picked.slice(1)) sum = g.op('Add', [sum, t], {}, { hint: 'probe_sum' });
    features = g.op(
      'Div',
      [sum, g.scalar(picked.length, 'probe_count')],
      {},
      { output: 'features' },
    );
  } else {
    features = await layerNorm(x, 'trunk.post_trunk_norm', 'features');
  }

  const outputs: [string, TensorType][] = [
    ['features', { elemType: DataType.FLOAT, shape: ['batch', K, D] }],
  ];
  if (withProbe) {
    await attentionProbe(g, W, weights, c, features);
    outputs.unshift(['logits', { elemType: DataType.FLOAT, shape: ['batch', c.numClasses] }]);
  }
  const predictor = mode === 'post-trunk-norm' ? predictionHeadOf(weights) : undefined;
  if (predictor) {
    await predictionHead(g, W, c, predictor, features, grid);
    outputs.push([
      'patch_predictions',
      { elemType: DataType.FLOAT, shape: ['batch', K, predictor.patchValues] },
    ]);
  }
  await writer.close();

  const modelBytes = g.encode({
    graphName: 'aim',
    inputs: [
      [
        'images',
        { elemType: DataType.FLOAT, shape: ['batch', c.channels, c.imageHeight, c.imageWidth] },
      ],
    ],
    outputs,
    producerVersion: '0.1.0',
    docString:
      'AIM v1 (ml-aim) inference graph: bidirectional trunk, features and attentive-probe logits',
    metadata: {
      // (Class names once, in aim.class_names: up to 1000 of them.)
      'aim.config': JSON.stringify({ ...c, classNames: undefined }),
      'aim.format': format,
      'aim.features': mode,
      'aim.blocks': String(lastBlock + 1),
      // Lets a loader check a shard set before reading it: names, sizes, and the id each
      // shard's 64-byte tag repeats (src/onnx/externalData.ts).
      'aim.export_id': writer.exportId,
      'aim.external_data': JSON.stringify(writer.shards),
      'aim.has_logits': String(withProbe),
      ...(withProbe && c.classNames ? { 'aim.class_names': JSON.stringify(c.classNames) } : {}),
      'aim.has_patch_predictions': String(predictor !== undefined),
      // ml-aim's val_transforms, for whoever feeds `images`.
      'aim.preprocessing': JSON.stringify({
        resize_shorter_side: Math.ceil(c.imageHeight / 0.875),
        resample: 'bicubic',
        center_crop: [c.imageHeight, c.imageWidth],
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        layout: 'NCHW float32',
      }),
    },
  });
  const modelSink = await sink.create(modelFile);
  await modelSink.write(modelBytes);
  await modelSink.close();
  return {
    modelFile,
    files: [{ name: modelFile, bytes: modelBytes.byteLength }, ...writer.shards],
    format,
    featureMode: mode,
    blocks: lastBlock + 1,
    hasLogits: withProbe,
    hasPatchPredictions: predictor !== undefined,
    outputs: outputs.map(([n]) => n),
  };
}
