/**
 * The Inference tab's second engine (src/inference/wgslEngine.ts): the model's weights read
 * back from the exported ONNX file's initializers, run on our WGSL kernels, against ml-aim's
 * own numbers (the fixture, computed by ml-aim's torch code in float64) and against
 * onnxruntime running the same file.
 *
 * Bounds: 1e-4 absolute on the fixture's logits (the bound; each engine alone is
 * ≤ 3e-6 from float64 on this fixture), 2e-4 on post-trunk-norm features of a trained run
 * (values ≤ ~4, as onnxCrossCheck.test.ts). A transposed or missing weight, a wrong layer
 * set, the unscaled query or a skipped BatchNorm moves logits by ≥ 1e-2.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { evalBatch } from '../src/data/batch';
import { makeProceduralDataset } from '../src/data/procedural';
import { SafetensorsFile } from '../src/data/safetensors';
import { planAimModel } from '../src/inference/modelPlan';
import { WgslEngine } from '../src/inference/wgslEngine';
import { OnnxWeightReader, wgslModelSpec } from '../src/inference/wgslEngineWeights';
import { numPatches } from '../src/model/config';
import { blobByteSource } from '../src/onnx/byteSource';
import { openWeights, parseAimConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx, type WeightFormat } from '../src/onnx/export';
import { memoryDataSink } from '../src/onnx/externalData';
import { defaultsFor } from '../src/training/settings';
import { Trainer } from '../src/training/trainer';
import { worstRatio } from './compare';
import { FIXTURE_DIR } from './fixtures';
import { testGpu } from './gpuContext';

const cases = SafetensorsFile.parse(readFileSync(join(FIXTURE_DIR, 'cases.safetensors')));
const weights = SafetensorsFile.parse(readFileSync(join(FIXTURE_DIR, 'weights.safetensors')));
const configJson = JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')) as Record<
  string,
  unknown
>;
const BATCH = 2;
const images = cases.float32('input');

/** An exported model as the worker holds it: bytes, shards as Blobs, its plan. */
async function exportToMemory(
  checkpoint: {
    config: ReturnType<typeof parseAimConfig>;
    weights: Awaited<ReturnType<typeof openWeights>>['weights'];
  },
  format: WeightFormat,
) {
  const sink = memoryDataSink();
  const result = await exportAimOnnx(checkpoint, sink, { format, maxShardBytes: 256 * 1024 });
  const modelBytes = sink.files.get('model.onnx')!;
  const shards = new Map(
    result.files
      .slice(1)
      .map(
        (f) => [f.name, new Blob([sink.files.get(f.name)! as Uint8Array<ArrayBuffer>])] as const,
      ),
  );
  return { modelBytes, shards, plan: planAimModel(modelBytes) };
}

async function fixtureModel(format: WeightFormat) {
  const blob = (f: string) =>
    blobByteSource(new Blob([readFileSync(join(FIXTURE_DIR, f)).buffer as ArrayBuffer]), f);
  const opened = await openWeights([blob('pytorch_model.bin')]);
  return exportToMemory({ config: parseAimConfig(configJson), weights: opened.weights }, format);
}

async function onnxRun(
  model: Awaited<ReturnType<typeof fixtureModel>>,
  x: Float32Array,
  dims: number[],
) {
  const externalData = await Promise.all(
    [...model.shards].map(async ([path, blob]) => ({
      path,
      data: new Uint8Array(await blob.arrayBuffer()),
    })),
  );
  const session = await ort.InferenceSession.create(model.modelBytes, { externalData });
  try {
    const out = await session.run({ images: new ort.Tensor('float32', x, dims) });
    return {
      logits: out.logits?.data as Float32Array | undefined,
      features: out.features.data as Float32Array,
    };
  } finally {
    await session.release();
  }
}

/** Attention-pooling weights in float64 from ml-aim's probe features (BN → k → softmax). */
function attentionReference(features: Float32Array, b: number, K: number, D: number, H: number) {
  const mean = weights.float32('head.bn.running_mean');
  const variance = weights.float32('head.bn.running_var');
  const wk = weights.float32('head.k.weight');
  const cls = weights.float32('head.cls_token');
  const dh = D / H;
  const out = new Float64Array(H * K);
  const k = new Float64Array(K * D);
  for (let t = 0; t < K; t++) {
    const x = Array.from({ length: D }, (_, i) => {
      const v = features[(b * K + t) * D + i];
      return (v - mean[i]) / Math.sqrt(variance[i] + 1e-6);
    });
    for (let o = 0; o < D; o++) {
      let s = 0;
      for (let i = 0; i < D; i++) s += wk[o * D + i] * x[i];
      k[t * D + o] = s;
    }
  }
  for (let h = 0; h < H; h++) {
    const scores = Array.from({ length: K }, (_, t) => {
      let s = 0;
      for (let j = 0; j < dh; j++) s += cls[h * dh + j] * k[t * D + h * dh + j];
      return s / Math.sqrt(dh);
    });
    const top = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - top));
    const sum = e.reduce((a, v) => a + v, 0);
    e.forEach((v, t) => (out[h * K + t] = v / sum));
  }
  return out;
}

describe('weights read back from the ONNX initializers', () => {
  it('fp32: every ml-aim tensor the engine needs equals the checkpoint’s', async () => {
    const model = await fixtureModel('fp32');
    const reader = new OnnxWeightReader(model.modelBytes, model.shards);
    const spec = wgslModelSpec(model.plan);
    expect(spec.layers).toBe(2);
    expect(spec.config.depth).toBe(4);
    for (const key of weights.names) {
      if (key.startsWith('trunk.post_trunk_norm') || key.endsWith('num_batches_tracked')) continue;
      const want = weights.float32(key);
      const shape = weights.entry(key).shape;
      const got = await reader.read(key, shape);
      // Transposes and copies are exact; the query (÷√dh then ·√dh) and the variance
      // (through (var + ε)^-½) round-trip to a few ulps.
      const exact = key !== 'head.cls_token' && key !== 'head.bn.running_var';
      if (exact) expect(got, key).toEqual(want);
      else
        expect(worstRatio(got, want, 1e-6 * Math.max(...want.map(Math.abs)))).toBeLessThanOrEqual(
          1,
        );
    }
    await expect(reader.read('head.k.weight', [3, 3])).rejects.toThrow(
      /holds 4096 values.*\[3, 3\]/,
    );
  });
});

describe('our engine against ml-aim and onnxruntime', () => {
  it(
    'fixture fp32: logits within 1e-4 of ml-aim’s, attention as float64',
    { timeout: 300_000 },
    async () => {
      const ctx = await testGpu();
      const model = await fixtureModel('fp32');
      const engine = await WgslEngine.create(ctx, model, BATCH);
      try {
        const run = await engine.run(images, BATCH);
        const want = cases.float32('logits');
        expect(run.logits).toHaveLength(want.length);
        expect(worstRatio(run.logits!, want, 1e-4)).toBeLessThanOrEqual(1);
        expect(worstRatio(run.features, cases.float32('probe_features'), 1e-4)).toBeLessThanOrEqual(
          1,
        );
        const onnx = await onnxRun(model, images, [BATCH, 3, 32, 32]);
        expect(worstRatio(run.logits!, onnx.logits!, 1e-4)).toBeLessThanOrEqual(1);
        // The attention over the 64 patches, per head, for each image.
        const { heads: H, tokens: K, dim: D } = engine.info;
        for (let b = 0; b < BATCH; b++) {
          const ref = attentionReference(cases.float32('probe_features'), b, K, D, H);
          const got = run.attention!.subarray(b * H * K, (b + 1) * H * K);
          expect(worstRatio(got, ref, 1e-5)).toBeLessThanOrEqual(1);
        }
        // A second run is the same (steady state reuses every buffer).
        const again = await engine.run(images, BATCH);
        expect(again.logits).toEqual(run.logits);
      } finally {
        engine.destroy();
      }
    },
  );

  it(
    'fixture fp16 and int4: the same numbers as onnxruntime on the same file',
    { timeout: 300_000 },
    async () => {
      const ctx = await testGpu();
      for (const format of ['fp16', 'int4'] as const) {
        const model = await fixtureModel(format);
        const engine = await WgslEngine.create(ctx, model, BATCH);
        try {
          const run = await engine.run(images, BATCH);
          const onnx = await onnxRun(model, images, [BATCH, 3, 32, 32]);
          expect(worstRatio(run.logits!, onnx.logits!, 1e-4), format).toBeLessThanOrEqual(1);
          // …and not ml-aim's fp32 logits exactly: the format's rounding is really there.
          if (format === 'int4')
            expect(worstRatio(run.logits!, cases.float32('logits'), 1e-4)).toBeGreaterThan(1);
        } finally {
          engine.destroy();
        }
      }
    },
  );

  it(
    'a run trained here (no probe): post-trunk-norm features as onnxruntime’s',
    { timeout: 600_000 },
    async () => {
      const ctx = await testGpu();
      const settings = {
        ...defaultsFor('aim-micro'),
        batch: 4,
        steps: 3,
        evalEvery: 100,
        checkpointEvery: 0,
        seed: 9,
      };
      const dataset = makeProceduralDataset({ size: 16, trainCount: 64, valCount: 8, seed: 2 });
      const trainer = await Trainer.create(ctx, settings, dataset);
      while (!trainer.done) await trainer.trainStep();
      const checkpoint = await trainer.checkpoint();
      trainer.destroy();
      const opened = await openWeights([
        blobByteSource(new Blob([checkpoint.slice().buffer]), 'checkpoint.safetensors'),
      ]);
      const model = await exportToMemory(
        { config: parseAimConfig(opened.embeddedConfig), weights: opened.weights },
        'fp32',
      );
      expect(model.plan.featureMode).toBe('post-trunk-norm');
      const size = model.plan.input.height;
      const x = evalBatch(dataset.val, [0, 1, 2], size).images;
      const engine = await WgslEngine.create(ctx, model, 3);
      try {
        const run = await engine.run(x, 3);
        expect(run.logits).toBeUndefined();
        const onnx = await onnxRun(model, x, [3, 3, size, size]);
        const K = numPatches(engine.spec.config);
        expect(run.features).toHaveLength(3 * K * engine.info.dim);
        expect(worstRatio(run.features, onnx.features, 2e-4)).toBeLessThanOrEqual(1);
      } finally {
        engine.destroy();
      }
    },
  );
});
