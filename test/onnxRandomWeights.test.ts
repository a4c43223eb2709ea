/**
 * Random-weight checkpoints (src/onnx/randomWeights.ts): ml-aim's keys and shapes (checked by
 * the exporter's own expectedTensors/checkTensors, and counted against parameterCount and the
 * memory plan for the paper's 600M), the value distributions, determinism per (seed, name),
 * and a small config exported in fp32 and int4 and run by onnxruntime-node's CPU EP, through
 * the library and through `npm run export -- --random`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { estimateForConfig } from '../src/inference/memoryPlan';
import { PRESETS, parameterCount } from '../src/model/config';
import { checkTensors, expectedTensors } from '../src/onnx/aimTensors';
import { parseAimConfig, type AimOnnxConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx, type WeightFormat } from '../src/onnx/export';
import { memoryDataSink } from '../src/onnx/externalData';
import {
  aimCheckpointTensors,
  PAPER_PRESETS,
  paperPresetConfig,
  randomAimCheckpoint,
  randomAimWeights,
} from '../src/onnx/randomWeights';
import { randomF32 } from '../src/reference/random';

const work = mkdtempSync(join(tmpdir(), 'aim-random-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Small enough to export and run in a second, with every part the paper's models have. */
const SMALL_JSON = {
  img_size: 28,
  patch_size: 7,
  embed_dim: 48,
  num_blocks: 4,
  num_heads: 3,
  probe_layers: [1, 2],
  num_classes: 1000,
};
const small = (): AimOnnxConfig => parseAimConfig(SMALL_JSON);
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

async function exportToMemory(config: AimOnnxConfig, seed: number, format: WeightFormat) {
  const sink = memoryDataSink();
  const result = await exportAimOnnx(randomAimCheckpoint(config, seed), sink, {
    format,
    exportId: 'fixed', // the id is random by default; fixed so equal weights give equal bytes
  });
  return { sink, result };
}

async function runLogits(exported: Awaited<ReturnType<typeof exportToMemory>>, batch: number) {
  const { sink, result } = exported;
  const session = await ort.InferenceSession.create(sink.files.get('model.onnx')!, {
    externalData: result.files
      .slice(1)
      .map((f) => ({ path: f.name, data: sink.files.get(f.name)! })),
  });
  try {
    const images = randomF32(batch * 3 * 28 * 28, 5, -2, 2);
    const out = await session.run({
      images: new ort.Tensor('float32', images, [batch, 3, 28, 28]),
    });
    return out.logits;
  } finally {
    await session.release();
  }
}

describe('the tensors of a random checkpoint', () => {
  test('are what the exporter expects, with probe statistics and post_trunk_norm', () => {
    const { config, weights } = randomAimCheckpoint(small(), 1);
    const expected = expectedTensors(config, weights, 'probe-layers');
    expect(() => checkTensors(expected, weights)).not.toThrow();
    // Blocks 0…2 are read (deepest probe layer 2); block 3 exists as in a real checkpoint.
    expect(expected.some((e) => e.name.startsWith('trunk.blocks.3.'))).toBe(false);
    expect(weights.has('trunk.blocks.3.mlp.fc2.weight')).toBe(true);
    for (const name of [
      'trunk.post_trunk_norm.weight',
      'head.bn.running_mean',
      'head.bn.running_var',
      'head.cls_token',
      'head.linear.bias',
    ])
      expect(weights.has(name), name).toBe(true);
    expect(expected.map((e) => e.name)).toContain('head.linear.bias');
    expect(expected.map((e) => e.name)).toContain('head.bn.running_var');
    expect(weights.info('head.cls_token')).toMatchObject({ dtype: 'F32', shape: [1, 1, 48] });
    expect(() => weights.info('head.bn.num_batches_tracked')).toThrow(/no tensor/);
  });

  test("aim-600M: 205 tensors, the trunk's parameterCount, and the memory plan's fp32 bytes", () => {
    const { config, weights } = randomAimCheckpoint('aim-600M');
    expect(config).toMatchObject({
      ...{ imageHeight: 224, patchHeight: 14, embedDim: 1536, numBlocks: 24, numHeads: 12 },
      ...{ mlpHidden: 6144, numClasses: 1000, probeLayers: [14, 15, 16, 17, 18, 19] },
    });
    // 4 preprocessor + 24 blocks × 8 + post_trunk_norm 2 + probe 7 (bn ×2, query, k, v, linear + bias).
    expect(weights.names.length).toBe(205);
    const D = 1536;
    const params = (filter: (n: string) => boolean) =>
      weights.names.filter(filter).reduce((s, n) => s + size(weights.info(n).shape), 0);
    expect(params((n) => !n.startsWith('head.'))).toBe(parameterCount(PRESETS['aim-600M']).trunk);
    expect(params((n) => n.startsWith('head.'))).toBe(2 * D + D + 2 * D * D + 1000 * D + 1000);
    // What an fp32 export stores: the tensors read, plus the derived 2-D positions (K × D);
    // the folded BatchNorm and scaled query replace their sources one for one.
    const read = expectedTensors(config, weights, 'probe-layers');
    const plan = estimateForConfig(
      {
        ...{ imgSize: 224, patchSize: 14, embedDim: D, numBlocks: 24, numHeads: 12 },
        ...{ blocks: 20, probeLayers: 6, probe: { classes: 1000 } },
      },
      'fp32',
    );
    expect(read.reduce((s, e) => s + size(e.shape), 0)).toBe(plan.weightBytes / 4 - 256 * D);
    expect(read.length).toBe(4 + 20 * 8 + 7);
  });

  test('every paper preset: best probe layers, 7B reads 20 of 32 blocks', () => {
    const deepest = PAPER_PRESETS.map((p) => Math.max(...paperPresetConfig(p).probeLayers) + 1);
    expect(deepest).toEqual([20, 18, 18, 20]);
    const { config, weights } = randomAimCheckpoint('aim-7B');
    expect(config).toMatchObject({ embedDim: 4096, numBlocks: 32, numHeads: 32 });
    expect(aimCheckpointTensors(config).size).toBe(4 + 32 * 8 + 2 + 7);
    const read = expectedTensors(config, weights, 'probe-layers');
    expect(() => checkTensors(read, weights)).not.toThrow();
    expect(read.length).toBe(4 + 20 * 8 + 7);
  });
});

describe('random values', () => {
  test('distributions: weights truncated-normal std 0.02, norms near 1, running_var positive', async () => {
    const weights = randomAimWeights(small(), 3);
    const stats = async (name: string) => {
      const v = await weights.readFloat32(name);
      let sum = 0;
      let sq = 0;
      for (const x of v) {
        sum += x;
        sq += x * x;
      }
      const mean = sum / v.length;
      return {
        mean,
        std: Math.sqrt(sq / v.length - mean * mean),
        min: Math.min(...v),
        max: Math.max(...v),
      };
    };
    // N(0, 0.02²) cut at ±2σ has std 0.02·0.8796 = 0.01759; 9216 values: ±1.5 % sampling error.
    const qkv = await stats('trunk.blocks.0.attn.qkv.weight');
    expect(qkv.std).toBeCloseTo(0.01759, 3);
    expect(Math.abs(qkv.mean)).toBeLessThan(0.001);
    expect(qkv.min).toBeGreaterThanOrEqual(-0.04);
    expect(qkv.max).toBeLessThanOrEqual(0.04);
    expect(qkv.max).toBeGreaterThan(0.039); // the tails are reached, so the cut is at 2σ
    const norm = await stats('trunk.blocks.1.norm_2.weight');
    expect(norm.mean).toBeCloseTo(1, 1);
    expect(norm.min).toBeGreaterThanOrEqual(0.96);
    const bias = await stats('head.linear.bias');
    expect(Math.abs(bias.mean)).toBeLessThan(0.005);
    expect(bias.max).toBeLessThanOrEqual(0.04);
    const variance = await stats('head.bn.running_var');
    expect(variance.min).toBeGreaterThanOrEqual(0.8);
    expect(variance.max).toBeLessThanOrEqual(1.2);
    const mean = await stats('head.bn.running_mean');
    expect(Math.abs(mean.mean)).toBeLessThan(0.01);
  });

  test('each tensor depends on (seed, name) only: order, repeats and other tensors do not matter', async () => {
    const a = randomAimWeights(small(), 7);
    const b = randomAimWeights(small(), 7);
    const names = ['trunk.blocks.2.mlp.fc1.weight', 'head.k.weight', 'head.v.weight'];
    const forward = [];
    for (const n of names) forward.push(await a.readFloat32(n));
    const backward = [];
    for (const n of [...names].reverse()) backward.unshift(await b.readFloat32(n));
    expect(backward).toEqual(forward);
    expect(await a.readFloat32(names[0])).toEqual(forward[0]);
    // Same shape, different name (k vs v) or different seed: different values.
    expect(forward[1]).not.toEqual(forward[2]);
    const other = await randomAimWeights(small(), 8).readFloat32('head.k.weight');
    expect(other).not.toEqual(forward[1]);
    // A different config does not change a tensor of the same name and shape.
    const wider = randomAimWeights({ ...small(), numBlocks: 6 }, 7);
    expect(await wider.readFloat32('head.k.weight')).toEqual(forward[1]);
  });
});

describe('exported and run in onnxruntime-node (CPU EP)', () => {
  test.each(['fp32', 'int4'] as const)('%s: finite logits [N, 1000]', async (format) => {
    const exported = await exportToMemory(small(), 11, format);
    expect(exported.result).toMatchObject({ blocks: 3, hasLogits: true, format });
    const logits = await runLogits(exported, 2);
    expect(logits.dims).toEqual([2, 1000]);
    const values = logits.data as Float32Array;
    expect(values.every(Number.isFinite)).toBe(true);
    // Not degenerate: two different images give different logits.
    expect(values.slice(0, 1000)).not.toEqual(values.slice(1000));
  });

  test('int4 stays close to fp32 on the same random weights', async () => {
    const [fp32, int4] = await Promise.all([
      exportToMemory(small(), 11, 'fp32').then((e) => runLogits(e, 1)),
      exportToMemory(small(), 11, 'int4').then((e) => runLogits(e, 1)),
    ]);
    const a = fp32.data as Float32Array;
    const b = int4.data as Float32Array;
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < a.length; i++) {
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += b[i] * b[i];
    }
    expect(ab / Math.sqrt(aa * bb)).toBeGreaterThan(0.95);
  });

  test('same seed → identical files; another seed → different weights, same graph', async () => {
    const first = await exportToMemory(small(), 21, 'int4');
    const again = await exportToMemory(small(), 21, 'int4');
    const other = await exportToMemory(small(), 22, 'int4');
    expect([...again.sink.files.keys()]).toEqual([...first.sink.files.keys()]);
    for (const [name, bytes] of first.sink.files)
      expect(Buffer.from(again.sink.files.get(name)!).equals(Buffer.from(bytes)), name).toBe(true);
    const shard = first.result.files[1].name;
    expect(other.result.files.map((f) => f.bytes)).toEqual(first.result.files.map((f) => f.bytes));
    expect(
      Buffer.from(other.sink.files.get(shard)!).equals(Buffer.from(first.sink.files.get(shard)!)),
    ).toBe(false);
  });
});

describe('npm run export -- --random', () => {
  // Bundled to a file of its own (scripts/export.mjs writes .gpu/export.mjs, which another
  // test file may be bundling at the same moment).
  const cli = join(work, 'export.mjs');
  beforeAll(async () => {
    await build({
      entryPoints: ['src/cli/export.node.ts'],
      outfile: cli,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      banner: {
        js: "import { createRequire as __aimCreateRequire } from 'node:module';\nconst require = __aimCreateRequire(import.meta.url);",
      },
      logLevel: 'error',
    });
  });
  const exportCli = (args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

  test('a config.json with --seed: the same bytes as the library, sizes and peak RSS printed', async () => {
    const configFile = join(work, 'config.json');
    writeFileSync(configFile, JSON.stringify(SMALL_JSON));
    const out = join(work, 'cli');
    const r = exportCli(['--random', configFile, '--seed', '21', '--format', 'int4', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/random weights, .*config\.json, seed 21, 45 tensors/);
    expect(r.stdout).toMatch(
      /int4, 3 of 4 blocks, features = probe-layers, outputs logits, features/,
    );
    expect(r.stdout).toMatch(/model\.onnx\.data_0 {2}\d+(\.\d)? KiB/);
    expect(r.stdout).toMatch(/peak RSS \d+(\.\d)? MiB/);
    // The shard's bytes after its 64-byte tag (which carries the random export id) match.
    const lib = await exportToMemory(small(), 21, 'int4');
    const shard = readFileSync(join(out, 'model.onnx.data_0'));
    const expected = lib.sink.files.get('model.onnx.data_0')!;
    expect(shard.length).toBe(expected.length);
    expect(shard.subarray(64).equals(Buffer.from(expected.subarray(64)))).toBe(true);
  });

  test('refuses unknown presets, a directory beside --random, and --seed without it', () => {
    const out = join(work, 'bad');
    const unknown = exportCli(['--random', 'aim-micro', '--out', out]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/--random aim-micro: use aim-600M, aim-1B, aim-3B, aim-7B/);
    const both = exportCli(['somedir', '--random', 'aim-7B', '--out', out]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--random replaces the checkpoint directory/);
    const seed = exportCli(['somedir', '--seed', '3', '--out', out]);
    expect(seed.status).toBe(2);
    expect(seed.stderr).toMatch(/--seed only applies to --random/);
  });
});
