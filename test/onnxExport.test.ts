/**
 * The ONNX exporter end to end: the ml-aim fixture exported from each layout Apple publishes
 * (pytorch_model.bin, the backbone + head .pth pair) and from safetensors, run by
 * onnxruntime-node's CPU EP, against the outputs ml-aim's own PyTorch code computed
 * (cases.safetensors) and against the float64 reference of the same graph (src/onnx/reference.ts).
 *
 * Tolerances. The fixture's outputs are float64 computations from the f32 weights; ORT
 * computes in f32 (unit roundoff u = 2^-24 ≈ 6e-8). Values are O(1–10) (|features| ≤ 8.3,
 * |logits| ≤ 4), every dot product has length ≤ 256 (fc2), so one layer's worst-case
 * error is ≈ γ_256·|x| ≈ 256·u·10 ≈ 1.5e-4 and its typical error √256·u·10 ≈ 1e-5; through
 * 4 blocks of LayerNorm-rescaled residuals ORT lands at ≈ 3e-6. We allow 1e-4 absolute:
 * 30× above what we see, and 100× below what one wrong index does (the wrong-probe-layer and
 * perturbation tests below show both sides). fp16 and int4 change the weights, so they are
 * held to the same 1e-4 against the float64 reference *with the same rounded / dequantized
 * weights* (which proves the graph and the packing), and only loosely to ml-aim's outputs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import { SafetensorsFile, halfToFloat } from '../src/data/safetensors';
import type { AimConfig } from '../src/model/config';
import { headParamSpecs } from '../src/model/params';
import { bidirectionalPrefix, modelForwardReference } from '../src/model/reference';
import { randomF32 } from '../src/reference/random';
import { encodeCheckpoint } from '../src/training/checkpoint';
import { layerNormReference } from '../src/reference/layernorm';
import { blobByteSource } from '../src/onnx/byteSource';
import { fileByteSource } from '../src/onnx/byteSource.node';
import {
  AimCheckpointError,
  openWeights,
  parseAimConfig,
  type AimOnnxConfig,
  type WeightSource,
} from '../src/onnx/checkpoint';
import { exportAimOnnx, type ExportOptions, type ExportResult } from '../src/onnx/export';
import { memoryDataSink } from '../src/onnx/externalData';
import { directorySink } from '../src/onnx/fileSink.node';
import { floatToHalfBits } from '../src/onnx/float16';
import { summarizeModel } from '../src/onnx/graph';
import { dequantizeInt4, quantizeInt4 } from '../src/onnx/int4';
import { aimInferenceReference } from '../src/onnx/reference';
import { worstRatio } from './compare';
import { FIXTURE_DIR } from './fixtures';

const ATOL = 1e-4;
const cases = SafetensorsFile.parse(readFileSync(join(FIXTURE_DIR, 'cases.safetensors')));
const fixtureWeights = SafetensorsFile.parse(
  readFileSync(join(FIXTURE_DIR, 'weights.safetensors')),
);
const configJson = JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')) as Record<
  string,
  unknown
>;
const images = cases.float32('input');
const BATCH = 2;
const K = 64;
const D = 64;
const work = mkdtempSync(join(tmpdir(), 'aim-onnx-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dirCounter = 0;
async function exportFixture(
  files: string[],
  options: ExportOptions,
  config: Record<string, unknown> = configJson,
  filter?: (w: WeightSource) => WeightSource,
): Promise<{ dir: string; result: ExportResult; config: AimOnnxConfig }> {
  const sources = await Promise.all(files.map((f) => fileByteSource(join(FIXTURE_DIR, f))));
  try {
    const opened = await openWeights(sources);
    const parsed = parseAimConfig(config);
    const dir = join(work, `m${dirCounter++}`);
    const weights = filter ? filter(opened.weights) : opened.weights;
    const result = await exportAimOnnx(
      { config: parsed, weights },
      await directorySink(dir),
      options,
    );
    return { dir, result, config: parsed };
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
}

async function run(dir: string, input = images, batch = BATCH) {
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
  try {
    const out = await session.run({ images: new ort.Tensor('float32', input, [batch, 3, 32, 32]) });
    return {
      outputNames: [...session.outputNames],
      features: out.features.data as Float32Array,
      logits: out.logits ? (out.logits.data as Float32Array) : undefined,
    };
  } finally {
    await session.release();
  }
}

function fixtureParams(transform?: (name: string, v: Float32Array) => ArrayLike<number>) {
  const params = new Map<string, ArrayLike<number>>();
  for (const name of fixtureWeights.names) {
    const v = fixtureWeights.float32(name);
    params.set(name, transform ? transform(name, v) : v);
  }
  return params;
}

const argmax = (a: ArrayLike<number>, from: number, n: number) => {
  let best = from;
  for (let i = from; i < from + n; i++) if (a[i] > a[best]) best = i;
  return best - from;
};

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

const LAYOUTS: [string, string[]][] = [
  ['pytorch_model.bin', ['pytorch_model.bin']],
  [
    'backbone + head .pth pair',
    ['aim_fixture_attnprobe_backbone.pth', 'aim_fixture_attnprobe_head_best_layers.pth'],
  ],
  ['safetensors', ['weights.safetensors']],
];

describe('fp32 export matches ml-aim', () => {
  test.each(LAYOUTS)('from %s: logits and probe_features within 1e-4', async (_, files) => {
    const { dir, result } = await exportFixture(files, { format: 'fp32' });
    expect(result).toMatchObject({ blocks: 4, featureMode: 'probe-layers', hasLogits: true });
    const out = await run(dir);
    expect(out.outputNames.sort()).toEqual(['features', 'logits']);
    expect(worstRatio(out.logits!, cases.float32('logits'), ATOL)).toBeLessThanOrEqual(1);
    expect(worstRatio(out.features, cases.float32('probe_features'), ATOL)).toBeLessThanOrEqual(1);
  });

  test('the tolerance catches a wrong probe layer and a 5e-4 perturbation', async () => {
    const { dir } = await exportFixture(
      ['weights.safetensors'],
      { format: 'fp32' },
      { ...configJson, probe_layers: [1, 3] },
    );
    const wrong = await run(dir);
    expect(worstRatio(wrong.features, cases.float32('probe_features'), ATOL)).toBeGreaterThan(100);
    const good = await run((await exportFixture(['weights.safetensors'], { format: 'fp32' })).dir);
    const perturbed = good.features.slice();
    perturbed[123] += 5e-4;
    expect(worstRatio(perturbed, cases.float32('probe_features'), ATOL)).toBeGreaterThan(1);
  });

  test('dynamic batch: one image and an odd batch of three give the fixture rows', async () => {
    const { dir } = await exportFixture(['pytorch_model.bin'], { format: 'fp32' });
    const per = 3 * 32 * 32;
    const logits = cases.float32('logits');
    const one = await run(dir, images.slice(0, per), 1);
    expect(worstRatio(one.logits!, logits.slice(0, 10), ATOL)).toBeLessThanOrEqual(1);
    const three = new Float32Array(3 * per);
    three.set(images.subarray(per, 2 * per), 0);
    three.set(images.subarray(0, per), per);
    three.set(images.subarray(per, 2 * per), 2 * per);
    const out = await run(dir, three, 3);
    const want = [...logits.slice(10, 20), ...logits.slice(0, 10), ...logits.slice(10, 20)];
    expect(worstRatio(out.logits!, want, ATOL)).toBeLessThanOrEqual(1);
  });
});

describe('browser path (no file system)', () => {
  test('Blob sources → memory sink → session from bytes + externalData: same outputs', async () => {
    const blob = (f: string) =>
      blobByteSource(new Blob([readFileSync(join(FIXTURE_DIR, f)).buffer as ArrayBuffer]), f);
    const opened = await openWeights([
      blob('aim_fixture_attnprobe_backbone.pth'),
      blob('aim_fixture_attnprobe_head_best_layers.pth'),
    ]);
    const sink = memoryDataSink();
    const result = await exportAimOnnx(
      { config: parseAimConfig(configJson), weights: opened.weights },
      sink,
      { format: 'fp32', maxShardBytes: 200 * 1024 },
    );
    expect([...sink.files.keys()].sort()).toEqual(result.files.map((f) => f.name).sort());
    const session = await ort.InferenceSession.create(sink.files.get('model.onnx')!, {
      externalData: result.files
        .slice(1)
        .map((f) => ({ path: f.name, data: sink.files.get(f.name)! })),
    });
    const out = await session.run({
      images: new ort.Tensor('float32', images, [BATCH, 3, 32, 32]),
    });
    await session.release();
    expect(
      worstRatio(out.logits.data as Float32Array, cases.float32('logits'), ATOL),
    ).toBeLessThanOrEqual(1);
    expect(
      worstRatio(out.features.data as Float32Array, cases.float32('probe_features'), ATOL),
    ).toBeLessThanOrEqual(1);
  });
});

/** A safetensors file with every tensor converted to F16 or BF16 (community copies). */
function halfSafetensors(dtype: 'F16' | 'BF16'): Uint8Array {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of fixtureWeights.names) {
    const v = fixtureWeights.float32(name);
    const bits = new Uint16Array(v.length);
    const u32 = new Uint32Array(v.buffer, v.byteOffset, v.length);
    // BF16 by truncation is fine for a test: the reference uses the same stored values.
    for (let i = 0; i < v.length; i++)
      bits[i] = dtype === 'F16' ? floatToHalfBits(v[i]) : u32[i] >>> 16;
    header[name] = {
      dtype,
      shape: fixtureWeights.entry(name).shape,
      data_offsets: [offset, offset + bits.byteLength],
    };
    chunks.push(new Uint8Array(bits.buffer));
    offset += bits.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

describe('fp16 / bf16 safetensors copies', () => {
  test.each(['F16', 'BF16'] as const)('%s weights widen exactly and export', async (dtype) => {
    const bytes = halfSafetensors(dtype);
    const opened = await openWeights([
      blobByteSource(new Blob([bytes.buffer as ArrayBuffer]), `aim-${dtype}.safetensors`),
    ]);
    const widen = (x: number) => {
      if (dtype === 'F16') return halfToFloat(floatToHalfBits(x));
      const u = new Uint32Array(new Float32Array([x]).buffer)[0];
      return new Float32Array(new Uint32Array([u & 0xffff0000]).buffer)[0];
    };
    const stored = fixtureParams((_, v) => Float32Array.from(v, widen));
    for (const name of ['trunk.blocks.0.attn.qkv.weight', 'head.bn.running_var']) {
      expect(await opened.weights.readFloat32(name)).toEqual(stored.get(name));
    }
    const config = parseAimConfig(configJson);
    const dir = join(work, `half-${dtype}`);
    await exportAimOnnx({ config, weights: opened.weights }, await directorySink(dir), {
      format: 'fp32',
    });
    const out = await run(dir);
    const ref = aimInferenceReference(config, stored, images, BATCH, 'probe-layers');
    expect(worstRatio(out.features, ref.features, ATOL)).toBeLessThanOrEqual(1);
    expect(worstRatio(out.logits!, ref.logits!, ATOL)).toBeLessThanOrEqual(1);
  });
});

describe('config variants', () => {
  test('probe_layers as an int (last N blocks) equals the list', async () => {
    const asInt = await exportFixture(
      ['weights.safetensors'],
      { format: 'fp32' },
      { ...configJson, probe_layers: 2 },
    );
    const asList = await exportFixture(['weights.safetensors'], { format: 'fp32' });
    expect(asInt.config.probeLayers).toEqual([2, 3]);
    const a = await run(asInt.dir);
    const b = await run(asList.dir);
    expect(a.features).toEqual(b.features);
    expect(a.logits).toEqual(b.logits);
  });

  test('probe_layers [0, 2]: 3 blocks, features = mean of ml-aim blocks 0 and 2, logits = reference', async () => {
    const { dir, result, config } = await exportFixture(
      ['pytorch_model.bin'],
      { format: 'fp32' },
      { ...configJson, probe_layers: [2, 0] },
    );
    expect(result.blocks).toBe(3);
    const model = summarizeModel(readFileSync(join(dir, 'model.onnx')));
    expect(model.initializers.some((t) => t.name.startsWith('trunk.blocks.3'))).toBe(false);
    const out = await run(dir);
    const b0 = cases.float32('block0_bidirectional');
    const b2 = cases.float32('block2_bidirectional');
    const want = b0.map((v, i) => (v + b2[i]) / 2);
    expect(worstRatio(out.features, want, ATOL)).toBeLessThanOrEqual(1);
    const ref = aimInferenceReference(config, fixtureParams(), images, BATCH, 'probe-layers');
    expect(worstRatio(out.features, ref.features, ATOL)).toBeLessThanOrEqual(1);
    expect(worstRatio(out.logits!, ref.logits!, ATOL)).toBeLessThanOrEqual(1);
  });

  test('a single probe layer: features are that block', async () => {
    const { dir } = await exportFixture(
      ['weights.safetensors'],
      { format: 'fp32' },
      { ...configJson, probe_layers: [1] },
    );
    const out = await run(dir);
    expect(
      worstRatio(out.features, cases.float32('block1_bidirectional'), ATOL),
    ).toBeLessThanOrEqual(1);
  });

  test.each([false, true])(
    'our own checkpoint (extra head norm %s): features = post_trunk_norm(last block), patch_predictions = reference',
    async (extraNormTerm) => {
      // This project's checkpoint: fixture trunk, a random ml-l3m prediction head, AdamW
      // moments, and the AimConfig in the safetensors metadata (no config.json).
      const modelConfig: AimConfig = {
        name: 'fixture',
        imageSize: 32,
        patchSize: 4,
        channels: 3,
        width: 64,
        depth: 4,
        heads: 4,
        mlpRatio: 4,
        head: { width: 32, depth: 2, extraNormTerm },
        trunkNormEps: 1e-6,
        headNormEps: 1e-5,
        inferenceOnly: false,
      };
      const params = new Map<string, { shape: readonly number[]; data: Float32Array }>();
      for (const name of fixtureWeights.names) {
        if (name.startsWith('head.')) continue;
        params.set(name, {
          shape: fixtureWeights.entry(name).shape,
          data: fixtureWeights.float32(name),
        });
      }
      headParamSpecs(modelConfig).forEach((spec, i) => {
        const n = spec.shape.reduce((a, b) => a * b, 1);
        params.set(spec.name, { shape: spec.shape, data: randomF32(n, 100 + i, -0.3, 0.3) });
      });
      const zeros = new Map(
        [...params].map(([k, v]) => [k, { shape: v.shape, data: new Float32Array(v.data.length) }]),
      );
      const bytes = encodeCheckpoint({
        params,
        optimizer: { expAvg: zeros, expAvgSq: zeros },
        step: 7,
        rngState: 1,
        modelConfig,
        runConfig: {},
      });
      const opened = await openWeights([
        blobByteSource(new Blob([bytes.slice().buffer]), 'checkpoint.safetensors'),
      ]);
      const config = parseAimConfig(opened.embeddedConfig);
      expect(config).toMatchObject({
        embedDim: 64,
        numBlocks: 4,
        mlpHidden: 256,
        probeLayersGiven: false,
      });
      const dir = join(work, `ours-${extraNormTerm}`);
      const result = await exportAimOnnx(
        { config, weights: opened.weights },
        await directorySink(dir),
        {
          format: 'fp32',
        },
      );
      expect(result).toMatchObject({
        featureMode: 'post-trunk-norm',
        blocks: 4,
        hasLogits: false,
        hasPatchPredictions: true,
        outputs: ['features', 'patch_predictions'],
      });
      const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
      const out = await session.run({
        images: new ort.Tensor('float32', images, [BATCH, 3, 32, 32]),
      });
      await session.release();
      // features against ml-aim's own block 3 through post_trunk_norm (|y| ≤ 4: 1e-4 holds).
      const want = layerNormReference(
        cases.float32('block3_bidirectional'),
        fixtureWeights.float32('trunk.post_trunk_norm.weight'),
        fixtureWeights.float32('trunk.post_trunk_norm.bias'),
        BATCH * K,
        D,
        1e-6,
      ).y;
      expect(worstRatio(out.features.data as Float32Array, want, ATOL)).toBeLessThanOrEqual(1);
      // patch_predictions against the project's float64 model with full attention.
      const ref = modelForwardReference(
        modelConfig,
        new Map([...params].map(([k, v]) => [k, v.data])),
        {
          batch: BATCH,
          images,
          order: Uint32Array.from({ length: K }, (_, i) => i),
          prefixLengths: bidirectionalPrefix(modelConfig, BATCH),
        },
      );
      expect(out.patch_predictions.dims).toEqual([BATCH, K, 48]);
      expect(
        worstRatio(out.patch_predictions.data as Float32Array, ref.pred, ATOL),
      ).toBeLessThanOrEqual(1);
    },
  );

  test('missing tensors, wrong shapes and bad probe layers are refused with the reason', async () => {
    const without =
      (drop: string) =>
      (w: WeightSource): WeightSource => ({
        names: w.names.filter((n) => n !== drop),
        has: (n) => n !== drop && w.has(n),
        info: (n) => w.info(n),
        readFloat32: (n) => w.readFloat32(n),
      });
    await expect(
      exportFixture(
        ['weights.safetensors'],
        { format: 'fp32' },
        configJson,
        without('trunk.blocks.1.mlp.fc1.weight'),
      ),
    ).rejects.toThrow(/lacks 1 tensor\(s\) the config needs: trunk\.blocks\.1\.mlp\.fc1\.weight/);
    await expect(
      exportFixture(
        ['weights.safetensors'],
        { format: 'fp32' },
        { ...configJson, num_heads: 8, embed_dim: 128 },
      ),
    ).rejects.toThrow(AimCheckpointError);
    await expect(
      exportFixture(
        ['weights.safetensors'],
        { format: 'fp32' },
        { ...configJson, num_classes: 1000 },
      ),
    ).rejects.toThrow(
      /head\.linear\.weight in weights\.safetensors is \[10, 64\], the config needs \[1000, 64\]/,
    );
    expect(() => parseAimConfig({ ...configJson, probe_layers: [7] })).toThrow(
      /probe_layers 7 outside blocks 0…3/,
    );
    expect(() => parseAimConfig({ ...configJson, probe_layers: 0 })).toThrow(
      /between 1 and num_blocks/,
    );
    expect(() => parseAimConfig({ ...configJson, patch_size: 5 })).toThrow(
      /not divisible by the patch/,
    );
  });
});

describe('fp16 and int4', () => {
  test('fp16: exact against the reference with f16-rounded weights, close to ml-aim', async () => {
    const { dir, result, config } = await exportFixture(['pytorch_model.bin'], { format: 'fp16' });
    const fp32Size = statSync(join(FIXTURE_DIR, 'weights.safetensors')).size;
    expect(result.files[1].bytes).toBeLessThan(0.6 * fp32Size);
    const out = await run(dir);
    // The graph stores every checkpoint tensor as binary16 except the probe's BatchNorm
    // statistics and query (folded into f32 constants).
    const rounded = fixtureParams((name, v) =>
      name.startsWith('head.bn.') || name === 'head.cls_token'
        ? v
        : v.map((x) => halfToFloat(floatToHalfBits(x))),
    );
    const ref = aimInferenceReference(config, rounded, images, BATCH, 'probe-layers');
    expect(worstRatio(out.features, ref.features, ATOL)).toBeLessThanOrEqual(1);
    expect(worstRatio(out.logits!, ref.logits!, ATOL)).toBeLessThanOrEqual(1);
    // Against ml-aim: each weight moves by ≤ 2^-11 relative; we see ≈ 4e-3 on features
    // (|x| ≤ 8) and 2e-3 on logits. Allow 2e-2, and the same top-1 class.
    expect(worstRatio(out.features, cases.float32('probe_features'), 2e-2)).toBeLessThanOrEqual(1);
    expect(worstRatio(out.logits!, cases.float32('logits'), 2e-2)).toBeLessThanOrEqual(1);
    for (let b = 0; b < BATCH; b++)
      expect(argmax(out.logits!, b * 10, 10)).toBe(argmax(cases.float32('logits'), b * 10, 10));
  });

  test('int4: exact against the reference with dequantized weights; top-1 and cosine against ml-aim', async () => {
    const { dir, result, config } = await exportFixture(
      ['aim_fixture_attnprobe_backbone.pth', 'aim_fixture_attnprobe_head_best_layers.pth'],
      { format: 'int4' },
    );
    const model = summarizeModel(readFileSync(join(dir, 'model.onnx')));
    const nbits = model.nodes.filter((n) => n.opType === 'MatMulNBits');
    expect(nbits).toHaveLength(4 * 4 + 3); // qkv, proj, fc1, fc2 per block; probe k, v, linear
    expect(nbits.every((n) => n.domain === 'com.microsoft')).toBe(true);
    expect(model.opsets).toEqual([':17', 'com.microsoft:1']);
    expect(
      model.nodes.some((n) => n.opType === 'MatMul' && n.inputs[1]?.endsWith('.weight_t')),
    ).toBe(false);
    expect(result.files[1].bytes).toBeLessThan(
      0.3 * statSync(join(FIXTURE_DIR, 'weights.safetensors')).size,
    );
    const out = await run(dir);
    const linear = /(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2|head\.k|head\.v|head\.linear)\.weight$/;
    const dequantized = fixtureParams((name, v) => {
      if (!linear.test(name)) return v;
      const [n, k] = fixtureWeights.entry(name).shape;
      return dequantizeInt4(quantizeInt4(v, n, k));
    });
    const ref = aimInferenceReference(config, dequantized, images, BATCH, 'probe-layers');
    expect(worstRatio(out.features, ref.features, ATOL)).toBeLessThanOrEqual(1);
    expect(worstRatio(out.logits!, ref.logits!, ATOL)).toBeLessThanOrEqual(1);
    // 4-bit random weights in a 64-wide, 4-block model move the outputs a lot (we see
    // max |Δlogit| ≈ 0.6 of |logits| ≤ 4); the class ranking and direction must survive.
    const logits = cases.float32('logits');
    for (let b = 0; b < BATCH; b++)
      expect(argmax(out.logits!, b * 10, 10)).toBe(argmax(logits, b * 10, 10));
    expect(cosine(out.logits!, logits)).toBeGreaterThan(0.95);
    expect(cosine(out.features, cases.float32('probe_features'))).toBeGreaterThan(0.97);
  });
});

describe('external data', () => {
  test('a tiny shard limit makes several shards below it, and the model still loads and agrees', async () => {
    const limit = 80 * 1024;
    const sharded = await exportFixture(['weights.safetensors'], {
      format: 'fp32',
      maxShardBytes: limit,
    });
    const shards = sharded.result.files.slice(1);
    expect(shards.length).toBeGreaterThanOrEqual(8);
    expect(shards.map((s) => s.name)).toEqual(shards.map((_, i) => `model.onnx.data_${i}`));
    for (const s of shards) {
      expect(s.bytes).toBeLessThanOrEqual(limit);
      expect(statSync(join(sharded.dir, s.name)).size).toBe(s.bytes);
    }
    const model = summarizeModel(readFileSync(join(sharded.dir, 'model.onnx')));
    const locations = new Set(model.initializers.flatMap((t) => t.external?.location ?? []));
    expect(locations.size).toBe(shards.length);
    const whole = await exportFixture(['weights.safetensors'], { format: 'fp32' });
    expect(whole.result.files).toHaveLength(2);
    const a = await run(sharded.dir);
    const b = await run(whole.dir);
    expect(a.features).toEqual(b.features);
    expect(a.logits).toEqual(b.logits);
  });

  test('a tensor larger than the shard limit is refused, naming it', async () => {
    await expect(
      exportFixture(['weights.safetensors'], { format: 'fp32', maxShardBytes: 4096 }),
    ).rejects.toThrow(
      /tensor preprocessor\.patchifier\.proj\.weight is 12288 bytes, above the shard limit of 4096/,
    );
  });

  test('the model file: opset 17, dynamic batch, weights external, metadata', async () => {
    const { dir } = await exportFixture(['pytorch_model.bin'], { format: 'fp32' });
    const model = summarizeModel(readFileSync(join(dir, 'model.onnx')));
    expect(model.irVersion).toBe(8);
    expect(model.opsets).toEqual([':17']);
    expect(model.inputs).toEqual([{ name: 'images', dims: ['batch', 3, 32, 32] }]);
    expect(model.outputs).toEqual([
      { name: 'logits', dims: ['batch', 10] },
      { name: 'features', dims: ['batch', 64, 64] },
    ]);
    // Weights are external; only shape/index/scalar constants are inline.
    const inline = model.initializers.filter((t) => !t.external);
    expect(inline.every((t) => t.inlineBytes <= 64)).toBe(true);
    expect(model.initializers.filter((t) => t.external).length).toBeGreaterThan(40);
    expect(model.metadata['aim.features']).toBe('probe-layers');
    expect(JSON.parse(model.metadata['aim.config'])).toMatchObject({
      probeLayers: [2, 3],
      numClasses: 10,
    });
  });
});

describe('npm run export', () => {
  test('exports the fixture directory and prints the file sizes', () => {
    const out = join(work, 'cli');
    const r = spawnSync(
      process.execPath,
      ['scripts/export.mjs', FIXTURE_DIR, '--format', 'fp16', '--out', out],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/pytorch_model\.bin/);
    expect(r.stdout).toMatch(/model\.onnx\.data_0 {2}\d+(\.\d)? KiB/);
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
    const bad = spawnSync(
      process.execPath,
      ['scripts/export.mjs', FIXTURE_DIR, '--format', 'int8', '--out', out],
      {
        encoding: 'utf8',
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--format int8: use fp32, fp16, int4/);
  });
});
