import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { evalBatch } from '../src/data/batch';
import { makeProceduralDataset } from '../src/data/procedural';
import { numPatches } from '../src/model/config';
import { blobByteSource } from '../src/onnx/byteSource';
import { openWeights, parseAimConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx } from '../src/onnx/export';
import { directorySink } from '../src/onnx/fileSink.node';
import { layerNormReference } from '../src/reference/layernorm';
import { defaultsFor, modelConfigFor } from '../src/training/settings';
import { Trainer } from '../src/training/trainer';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

/**
 * A checkpoint trained here (aim-micro, a few real steps) exported to ONNX and run through
 * onnxruntime must give the features the WGSL trunk computes in bidirectional mode: the
 * output of the last block through post_trunk_norm. Tolerance 2e-4 absolute on values of
 * magnitude ≤ ~4 (LayerNorm outputs): both sides are f32 with different summation orders over
 * 2 blocks of width 64 (each side measured ≤ 3e-6 from ml-aim's float64 on the fixture); a
 * wrong weight layout, a missing block or the causal mask changes features by ≥ 1e-2.
 */
describe('WGSL trunk and exported ONNX agree on a trained checkpoint', () => {
  it('features match in bidirectional mode', { timeout: 300_000 }, async () => {
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

    const config = modelConfigFor(settings);
    const K = numPatches(config);
    const D = config.width;
    const images = evalBatch(dataset.val, [0, 1, 2, 3], config.imageSize).images;
    const { blocks } = await trainer.model.runTrunk(images);
    const params = await trainer.model.downloadParameters();
    trainer.destroy();
    const wgslFeatures = layerNormReference(
      blocks[blocks.length - 1],
      params.get('trunk.post_trunk_norm.weight')!,
      params.get('trunk.post_trunk_norm.bias')!,
      4 * K,
      D,
      config.trunkNormEps,
    ).y;

    const opened = await openWeights([
      blobByteSource(new Blob([checkpoint.slice().buffer]), 'checkpoint.safetensors'),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'aim-crosscheck-'));
    await exportAimOnnx(
      { config: parseAimConfig(opened.embeddedConfig), weights: opened.weights },
      await directorySink(dir),
      { format: 'fp32' },
    );
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const out = await session.run({
      images: new ort.Tensor('float32', images, [4, 3, config.imageSize, config.imageSize]),
    });
    await session.release();
    expect(out.features.dims).toEqual([4, K, D]);
    expect(worstRatio(out.features.data as Float32Array, wgslFeatures, 2e-4)).toBeLessThanOrEqual(
      1,
    );
  });
});
