/**
 * The paper-mode model variants (issue 14: Table 3a raw targets, Table 3e no head, Table 3f
 * a trunk of any width and depth) where they meet the rest of the project: the memory
 * estimate still equals what the GPU model allocates, a checkpoint of such a run exports to
 * ONNX (its trunk, as ml-aim's; a run without a head has no patch predictions to export) and
 * onnxruntime reproduces the float64 trunk, and predictions of raw targets are shown as the
 * pixels they are.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context';
import { PRESETS, type AimConfig } from '../src/model/config';
import { AimGpuModel } from '../src/model/gpuModel';
import { estimateTrainingMemory, trainingBuffers } from '../src/model/memory';
import { initParameters, paramSpecs } from '../src/model/params';
import { bidirectionalPrefix, modelForwardReference } from '../src/model/reference';
import { blobByteSource } from '../src/onnx/byteSource';
import { openWeights, parseAimConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx } from '../src/onnx/export';
import { directorySink } from '../src/onnx/fileSink.node';
import { randomF32 } from '../src/reference/random';
import { encodeCheckpoint } from '../src/training/checkpoint';
import { predictionImages } from '../src/training/predictions';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

const micro = PRESETS['aim-micro'];
/** aim-micro's 16 px images and 4 px patches, a 48-wide 3-block trunk in 3 heads, no head. */
const NO_HEAD_CUSTOM: AimConfig = {
  ...micro,
  name: 'aim-micro (custom)',
  width: 48,
  depth: 3,
  heads: 3,
  head: { ...micro.head, kind: 'none' },
  targets: 'raw',
};

let stopRecording: (() => void) | undefined;
afterEach(() => stopRecording?.());

/** The sizes of the storage buffers created on `ctx.device` until `stop` (placeholders aside). */
function recordStorageBuffers(ctx: GpuContext): { sizes: number[]; stop: () => void } {
  const device = ctx.device;
  const original = device.createBuffer;
  const sizes: number[] = [];
  device.createBuffer = function (descriptor: GPUBufferDescriptor): GPUBuffer {
    const storage = (descriptor.usage & GPUBufferUsage.STORAGE) !== 0;
    if (storage && !(descriptor.label ?? '').startsWith('placeholder')) sizes.push(descriptor.size);
    return original.call(device, descriptor);
  };
  return { sizes, stop: () => void (device.createBuffer = original) };
}

/** What a bare AimGpuModel allocates by the estimate: no optimizer or its scratch. */
function modelOnlyBytes(c: AimConfig, batch: number): { bytes: number; count: number } {
  const list = trainingBuffers(c, batch).filter(
    (b) => b.category !== 'optimizer' && !/^gradNorm|^reduceSum|^adamw/.test(b.label),
  );
  return { bytes: list.reduce((n, b) => n + b.bytes, 0), count: list.length };
}

describe('memory estimate of the paper variants equals the allocation', () => {
  for (const [label, c] of [
    ['no head, raw targets, width 48 × 3 blocks', NO_HEAD_CUSTOM],
    [
      'MLP head of width 40, width 48 × 3 blocks',
      { ...NO_HEAD_CUSTOM, head: { ...micro.head, width: 40 } },
    ],
  ] as const) {
    it(`${label}, batch 3, model only`, async () => {
      const ctx = await testGpu();
      const rec = recordStorageBuffers(ctx);
      stopRecording = rec.stop;
      const model = await AimGpuModel.create(ctx, c, 3);
      rec.stop();
      try {
        const want = modelOnlyBytes(c, 3);
        expect(model.bytes).toBe(estimateTrainingMemory(c, 3).modelBytes);
        expect(rec.sizes.reduce((a, b) => a + b, 0)).toBe(want.bytes);
        expect(rec.sizes.length).toBe(want.count);
      } finally {
        model.destroy();
      }
    }, 300_000);
  }

  it('the head variant changes the estimate (the comparison can fail)', () => {
    const withHead = { ...NO_HEAD_CUSTOM, head: { ...micro.head, kind: 'mlp' as const } };
    expect(modelOnlyBytes(withHead, 3).bytes).toBeGreaterThan(
      modelOnlyBytes(NO_HEAD_CUSTOM, 3).bytes,
    );
  });
});

describe('ONNX export of a run without a head and with a custom trunk', () => {
  const work = mkdtempSync(join(tmpdir(), 'aim-paper-onnx-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('exports the trunk through post_trunk_norm (no patch predictions); onnxruntime matches float64', async () => {
    const c = NO_HEAD_CUSTOM;
    const values = initParameters(c, 5);
    // Away from the initialiser's ones and zeros, so every norm weight and bias matters.
    let seed = 0;
    for (const [name, v] of values) {
      const noise = randomF32(v.length, ++seed, -0.2, 0.2);
      values.set(
        name,
        Float32Array.from(v, (x, i) => x + noise[i]),
      );
    }
    const params = new Map(
      paramSpecs(c).map((s) => [s.name, { shape: s.shape, data: values.get(s.name)! }]),
    );
    const bytes = encodeCheckpoint({
      params,
      step: 2,
      rngState: 1,
      modelConfig: c,
      runConfig: {},
    });
    const opened = await openWeights([
      blobByteSource(new Blob([bytes.slice().buffer]), 'checkpoint.safetensors'),
    ]);
    const config = parseAimConfig(opened.embeddedConfig);
    expect(config).toMatchObject({ embedDim: 48, numBlocks: 3, numHeads: 3, mlpHidden: 192 });
    const dir = join(work, 'no-head');
    const result = await exportAimOnnx(
      { config, weights: opened.weights },
      await directorySink(dir),
      {
        format: 'fp32',
      },
    );
    expect(result).toMatchObject({
      featureMode: 'post-trunk-norm',
      blocks: 3,
      hasLogits: false,
      hasPatchPredictions: false,
      outputs: ['features'],
    });
    const batch = 2;
    const images = randomF32(batch * 3 * 16 * 16, 9, -2, 2);
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const out = await session.run({
      images: new ort.Tensor('float32', images, [batch, 3, 16, 16]),
    });
    await session.release();
    const ref = modelForwardReference(c, values, {
      batch,
      images,
      order: Uint32Array.from({ length: 16 }, (_, i) => i),
      prefixLengths: bidirectionalPrefix(c, batch),
    });
    expect(out.features.dims).toEqual([batch, 16, 48]);
    // f32 through 3 blocks of width 48 against float64, after the norm |features| ≲ 4: 1e-4
    // absolute, the tolerance test/onnxExport.test.ts holds ml-aim's trunk to.
    expect(worstRatio(out.features.data as Float32Array, ref.postNorm.y, 1e-4)).toBeLessThanOrEqual(
      1,
    );
  }, 120_000);
});

describe('predictions of raw targets', () => {
  it('are the pixels themselves; normalised ones are restored with the patch statistics', () => {
    // One 8×8 image of 4 patches, predicted exactly (pred at t − 1 = patch t).
    const size = 8;
    const patch = 4;
    const images = randomF32(3 * size * size, 3, -1.5, 1.5);
    const order = [0, 1, 2, 3];
    const P = patch * patch * 3;
    const pred = new Float32Array(4 * P);
    // Patch t in (row, col, channel) order, raw: what a perfect raw-target model predicts.
    for (let t = 1; t < 4; t++) {
      const pr = Math.floor(t / 2);
      const pc = t % 2;
      for (let r = 0; r < patch; r++)
        for (let q = 0; q < patch; q++)
          for (let ch = 0; ch < 3; ch++)
            pred[(t - 1) * P + (r * patch + q) * 3 + ch] =
              images[ch * size * size + (pr * patch + r) * size + pc * patch + q];
    }
    const [raw] = predictionImages(images, pred, 1, size, patch, order, 1, 'raw');
    expect(raw.predicted).toEqual(raw.original);
    // Read as normalised values, the same numbers are rescaled: another picture.
    const [normalised] = predictionImages(images, pred, 1, size, patch, order, 1);
    expect(normalised.predicted).not.toEqual(normalised.original);
  });
});
