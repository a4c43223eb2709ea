/**
 * The memory plan against real exports: for the ml-aim fixture and two random-weight
 * architectures (ml-aim with every optional bias, two probe queries and widths that are not
 * multiples of the int4 block; this project's checkpoint layout with a prediction head), in
 * fp32, fp16 and int4, estimateForConfig must predict the exported weight bytes and shard
 * sizes exactly, and agree with estimateForPlan on the exported model.onnx. Then the paper's
 * presets (printed as a table) and the adapter checks.
 */
import { formatBytes } from '../src/util/format';
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  checkFits,
  estimateForConfig,
  estimateForPlan,
  type AimArchitecture,
  type WeightFormat,
} from '../src/inference/memoryPlan';
import { planAimModel } from '../src/inference/modelPlan';
import { PRESETS, parameterCount, type AimConfig } from '../src/model/config';
import { paramSpecs } from '../src/model/params';
import { fileByteSource } from '../src/onnx/byteSource.node';
import { openWeights, parseAimConfig, type WeightSource } from '../src/onnx/checkpoint';
import { exportAimOnnx } from '../src/onnx/export';
import { memoryDataSink } from '../src/onnx/externalData';
import { randomF32 } from '../src/reference/random';
import { FIXTURE_DIR } from './fixtures';

const { onnx } = onnxProto;
const FORMATS: WeightFormat[] = ['fp32', 'fp16', 'int4'];

/** Random f32 tensors of the given shapes, as a checkpoint would hand them to the exporter. */
function randomSource(shapes: Map<string, number[]>): WeightSource {
  const names = [...shapes.keys()];
  return {
    names,
    has: (n) => shapes.has(n),
    info: (n) => ({ name: n, dtype: 'F32', shape: shapes.get(n)!, file: 'random' }),
    readFloat32: (n) => {
      const size = shapes.get(n)!.reduce((a, b) => a * b, 1);
      return Promise.resolve(randomF32(size, names.indexOf(n) + 1, -0.5, 0.5));
    },
  };
}

/** ml-aim's state dict with every optional bias (use_bias / qkv_bias) and a biased probe. */
function mlAimWithBiases(D: number, blocks: number, hidden: number, classes: number) {
  const s = new Map<string, number[]>([
    ['preprocessor.patchifier.proj.weight', [D, 3, 4, 4]],
    ['preprocessor.patchifier.proj.bias', [D]],
    ['preprocessor.patchifier.norm.weight', [D]],
    ['preprocessor.patchifier.norm.bias', [D]],
  ]);
  for (let l = 0; l < blocks; l++) {
    const b = `trunk.blocks.${l}`;
    for (const n of ['norm_1', 'norm_2']) s.set(`${b}.${n}.weight`, [D]).set(`${b}.${n}.bias`, [D]);
    s.set(`${b}.attn.qkv.weight`, [3 * D, D]).set(`${b}.attn.qkv.bias`, [3 * D]);
    s.set(`${b}.attn.proj.weight`, [D, D]).set(`${b}.attn.proj.bias`, [D]);
    s.set(`${b}.mlp.fc1.weight`, [hidden, D]).set(`${b}.mlp.fc1.bias`, [hidden]);
    s.set(`${b}.mlp.fc2.weight`, [D, hidden]).set(`${b}.mlp.fc2.bias`, [D]);
  }
  s.set('head.cls_token', [1, 2, D]).set('head.k.weight', [D, D]).set('head.v.weight', [D, D]);
  s.set('head.linear.weight', [classes, D]).set('head.linear.bias', [classes]);
  return s;
}

interface Case {
  label: string;
  arch: AimArchitecture;
  open: () => Promise<{ config: ReturnType<typeof parseAimConfig>; weights: WeightSource }>;
}

const ours: AimConfig = {
  ...PRESETS['aim-micro'],
  name: 'ours',
  imageSize: 24,
  patchSize: 4,
  width: 36,
  depth: 3,
  heads: 3,
  head: { width: 20, depth: 2, extraNormTerm: true },
};

const CASES: Case[] = [
  {
    label: 'ml-aim fixture',
    // The fixture's probe has BatchNorm stats but no `linear` bias; probe layers [2, 3].
    arch: {
      ...{ imgSize: 32, patchSize: 4, embedDim: 64, numBlocks: 4, numHeads: 4, blocks: 4 },
      ...{ probeLayers: 2, probe: { classes: 10, linearBias: false } },
    },
    open: async () => {
      const source = await fileByteSource(join(FIXTURE_DIR, 'weights.safetensors'));
      const config = JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')) as object;
      return { config: parseAimConfig(config), weights: (await openWeights([source])).weights };
    },
  },
  {
    label: 'ml-aim with biases, D 40, hidden 152',
    arch: {
      ...{ imgSize: 16, patchSize: 4, embedDim: 40, numBlocks: 3, numHeads: 2, mlpRatio: 3.8 },
      ...{ blocks: 2, probeLayers: 2, linearBiases: true },
      probe: { classes: 7, queries: 2, batchNorm: false },
    },
    open: () => {
      const json = { img_size: 16, patch_size: 4, embed_dim: 40, num_blocks: 3, num_heads: 2 };
      const config = parseAimConfig({
        ...json,
        mlp_ratio: 3.8,
        probe_layers: [0, 1],
        num_classes: 7,
      });
      return Promise.resolve({ config, weights: randomSource(mlAimWithBiases(40, 2, 152, 7)) });
    },
  },
  {
    label: 'ml-aim trunk without probe (post_trunk_norm features)',
    arch: {
      imgSize: 16,
      patchSize: 4,
      embedDim: 32,
      numBlocks: 2,
      numHeads: 2,
      linearBiases: true,
    },
    open: () => {
      const trunk = [...mlAimWithBiases(32, 2, 128, 1)].filter(([n]) => !n.startsWith('head.'));
      const shapes = new Map([...trunk, ['trunk.post_trunk_norm.weight', [32]]]);
      shapes.set('trunk.post_trunk_norm.bias', [32]);
      const json = { img_size: 16, patch_size: 4, embed_dim: 32, num_blocks: 2, num_heads: 2 };
      return Promise.resolve({ config: parseAimConfig(json), weights: randomSource(shapes) });
    },
  },
  {
    label: "this project's checkpoint with a prediction head",
    arch: {
      ...{ imgSize: 24, patchSize: 4, embedDim: 36, numBlocks: 3, numHeads: 3 },
      predictionHead: { width: 20, depth: 2, extraNorm: true },
    },
    open: () => {
      const shapes = new Map(paramSpecs(ours).map((p) => [p.name, [...p.shape]]));
      return Promise.resolve({ config: parseAimConfig(ours), weights: randomSource(shapes) });
    },
  },
];

describe('estimateForConfig predicts the exporter byte for byte', () => {
  const grid = CASES.flatMap((c) => FORMATS.map((f) => [c.label, f, c] as const));
  test.each(grid)('%s, %s', async (_, format, c) => {
    // Several shards, so the layout (tags, alignment, the limit) is predicted too.
    const whole = estimateForConfig(c.arch, format);
    const maxShardBytes = Math.max(whole.largestBufferBytes + 4160, whole.weightBytes / 3);
    const sink = memoryDataSink();
    const result = await exportAimOnnx(await c.open(), sink, { format, maxShardBytes });
    const plan = planAimModel(sink.files.get('model.onnx')!);
    const estimate = estimateForConfig(c.arch, format, 1, { maxShardBytes });

    expect(estimate.weightBytes).toBe(plan.externalWeightBytes);
    expect(estimate.shardBytes).toEqual(result.files.slice(1).map((f) => f.bytes));
    expect(estimate.shardBytes!.length).toBeGreaterThan(1);
    // The tags and alignment padding are what the shards hold beyond the weights.
    const shardTotal = estimate.shardBytes!.reduce((a, b) => a + b, 0);
    expect(shardTotal - estimate.weightBytes).toBeGreaterThanOrEqual(64 * plan.shards.length);
    // Inline graph constants (shapes, scalars) are the only other initializers: a few hundred bytes.
    const inline = plan.weightBytes - plan.externalWeightBytes;
    expect(inline).toBeGreaterThan(0);
    expect(inline).toBeLessThan(1024);

    const fromPlan = estimateForPlan(plan);
    expect(fromPlan.weightBytes).toBe(plan.weightBytes);
    expect(fromPlan.gpuWeightBytes - estimate.gpuWeightBytes).toBe(inline);
    if (c.arch.predictionHead) {
      // model.onnx does not record the head's width: the plan assumes the paper's 2048.
      expect(fromPlan.activationBytes).toBeGreaterThan(estimate.activationBytes);
    } else {
      expect(fromPlan.activationBytes).toBe(estimate.activationBytes);
      expect(fromPlan.largestBufferBytes).toBe(estimate.largestBufferBytes);
    }
    expect(fromPlan.downloadBytes).toBe(plan.totalBytes);
    // The model file is estimated, not computed: within a factor of two.
    const modelBytes = result.files[0].bytes;
    const guessed = estimate.downloadBytes - shardTotal;
    expect(guessed / modelBytes).toBeGreaterThan(0.5);
    expect(guessed / modelBytes).toBeLessThan(2);
    if (format === 'fp16') {
      expect(estimate.gpuWeightBytes).toBeGreaterThan(1.8 * estimate.weightBytes);
      expect(estimate.notes.join(' ')).toContain('f32 size');
    } else expect(estimate.gpuWeightBytes).toBe(estimate.weightBytes);
  });
});

const LARGE = ['aim-600M', 'aim-1B', 'aim-3B', 'aim-7B'] as const;

function presetArch(name: (typeof LARGE)[number], blocks?: number): AimArchitecture {
  const p = PRESETS[name];
  const c = { imgSize: p.imageSize, patchSize: p.patchSize, embedDim: p.width, numHeads: p.heads };
  return { ...c, numBlocks: p.depth, probe: { classes: 1000 }, blocks: blocks ?? p.depth };
}

/** Parameters of the exported graph: patch embedding, `blocks` blocks, positions and probe. */
function exportedParams(name: (typeof LARGE)[number], blocks: number): number {
  const p = PRESETS[name];
  const D = p.width;
  const K = (p.imageSize / p.patchSize) ** 2;
  const trunk = parameterCount({ ...p, depth: blocks }).trunk - 2 * D; // no post-trunk norm
  return trunk + K * D + 2 * D + D + 2 * D * D + 1000 * D + 1000; // + positions, bn, query, k, v, linear
}

describe("the paper's models", () => {
  test('presets: fp32 is 4 bytes a parameter; int4 of the 7B is 3–5 GB; a table', () => {
    const rows: string[] = [];
    const gb = (b: number) => (b / 1e9).toFixed(2).padStart(7);
    for (const name of LARGE) {
      const runs = name === 'aim-7B' ? [32, 20] : [PRESETS[name].depth];
      for (const blocks of runs) {
        const cells = FORMATS.map((f) => estimateForConfig(presetArch(name, blocks), f));
        const [fp32, fp16, int4] = cells;
        expect(fp32.weightBytes).toBe(4 * exportedParams(name, blocks));
        // fp16 keeps positions, BatchNorm and query f32: a hair above half.
        expect(fp16.weightBytes / fp32.weightBytes).toBeGreaterThan(0.5);
        expect(fp16.weightBytes / fp32.weightBytes).toBeLessThan(0.51);
        expect(int4.weightBytes / fp32.weightBytes).toBeGreaterThan(0.15);
        expect(int4.weightBytes / fp32.weightBytes).toBeLessThan(0.17);
        rows.push(
          `${`${name} (${blocks} blocks)`.padEnd(20)} ${(exportedParams(name, blocks) / 1e9).toFixed(2)} B params` +
            cells
              .map(
                (e) =>
                  ` | ${gb(e.weightBytes)} GB, GPU ${gb(e.totalGpuBytes)}, max ${formatBytes(e.largestBufferBytes).padStart(8)}`,
              )
              .join(''),
        );
      }
    }
    console.log(`weights (fp32 | fp16 | int4), batch 1:\n${rows.join('\n')}`);
    const full7B = estimateForConfig(presetArch('aim-7B', 32), 'int4');
    expect(full7B.weightBytes).toBeGreaterThan(3e9);
    expect(full7B.weightBytes).toBeLessThan(5e9);
    const best7B = estimateForConfig(presetArch('aim-7B', 20), 'fp32');
    expect(exportedParams('aim-7B', 32)).toBeGreaterThan(6.3e9); // ml-aim: 6.5 B with the head
    expect(best7B.notes.join(' ')).toContain('Runs 20 of 32 blocks');
    expect(best7B.largestBufferName).toBe('trunk.blocks.0.mlp.fc1.weight_t');
    expect(best7B.largestBufferBytes).toBe(4096 * 16384 * 4);
  });

  test('activations grow with the batch: quadratic attention scores, linear in N', () => {
    const a = presetArch('aim-600M');
    const one = estimateForConfig(a, 'int4', 1);
    const eight = estimateForConfig(a, 'int4', 8);
    expect(eight.weightBytes).toBe(one.weightBytes);
    expect(eight.activationBytes / one.activationBytes).toBeCloseTo(8, 1);
    // At least the scores and probabilities of one block: 2·N·H·K·K·4.
    expect(one.activationBytes).toBeGreaterThan(2 * 12 * 256 * 256 * 4);
    expect(one.activationBytes).toBeLessThan(256 * 2 ** 20);
  });
});

test('a model without aim.config: heads assumed from a head width of 64, and said so', async () => {
  const sink = memoryDataSink();
  await exportAimOnnx(await CASES[0].open(), sink, { format: 'fp32' });
  const bytes = sink.files.get('model.onnx')!;
  const m = onnx.ModelProto.decode(bytes);
  m.metadataProps = m.metadataProps.filter((p) => p.key !== 'aim.config');
  const estimate = estimateForPlan(planAimModel(onnx.ModelProto.encode(m).finish()));
  expect(estimate.notes.join(' ')).toContain('The model names no head count: assumed 1');
  const withConfig = estimateForPlan(planAimModel(bytes));
  expect(estimate.weightBytes).toBe(withConfig.weightBytes);
  // The fallbacks: one head (64 / 64), ml-aim's default of 6 averaged probe layers.
  const assumed = estimateForConfig({ ...CASES[0].arch, numHeads: 1, probeLayers: 6 }, 'fp32');
  expect(estimate.activationBytes).toBe(assumed.activationBytes);
});

describe('checkFits', () => {
  const limits = { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 27 };

  test('a buffer above the binding limit is refused, naming the tensor and the limit', () => {
    const fit = checkFits(estimateForConfig(presetArch('aim-7B', 20), 'fp32'), limits, 'webgpu');
    expect(fit).toEqual({
      ok: false,
      reason: expect.stringContaining(
        "trunk.blocks.0.mlp.fc1.weight_t (256.0 MiB), is above this GPU's maxStorageBufferBindingSize of 128.0 MiB",
      ) as string,
    });
    const small = { maxBufferSize: 2 ** 27, maxStorageBufferBindingSize: 2 ** 30 };
    const bySize = checkFits(estimateForConfig(presetArch('aim-7B', 20), 'fp16'), small, 'webgpu');
    expect(bySize.ok ? '' : bySize.reason).toContain(
      "fc1.weight_t (256.0 MiB), is above this GPU's maxBufferSize of 128.0 MiB",
    );
  });

  test('int4 fits where fp32 does not; above 8 GiB is a warning on WebGPU, a refusal on wasm', () => {
    const roomy = { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31 };
    expect(
      checkFits(estimateForConfig(presetArch('aim-7B', 20), 'int4'), limits, 'webgpu'),
    ).toEqual({
      ok: true,
      warnings: [],
    });
    const big = checkFits(estimateForConfig(presetArch('aim-3B'), 'fp32'), roomy, 'webgpu');
    expect(big.ok && big.warnings.join(' ')).toContain('most laptop GPUs have less');
    const wasm = checkFits(estimateForConfig(presetArch('aim-1B'), 'fp16'), roomy, 'wasm');
    expect(wasm.ok ? '' : wasm.reason).toMatch(/needs about .* GiB .* WebAssembly backend/);
    expect(checkFits(estimateForConfig(presetArch('aim-1B'), 'int4'), roomy, 'wasm').ok).toBe(true);
  });
});
