import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { evalBatch } from '../src/data/batch';
import { makeProceduralDataset } from '../src/data/procedural';
import { PRESETS } from '../src/model/config';
import { initParameters } from '../src/model/params';
import { blobByteSource } from '../src/onnx/byteSource';
import { openWeights, parseAimConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx } from '../src/onnx/export';
import { directorySink } from '../src/onnx/fileSink.node';
import { classifyWithProbe } from '../src/probe/classifyProbe';
import { decodeProbeFile, encodeProbeFile } from '../src/probe/probeFile';
import { PROBE_RECIPE } from '../src/probe/recipe';
import { trainProbes } from '../src/probe/trainProbe';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

/**
 * An attentive probe trained here, written as a probe file (trunk + head.* under ml-aim's
 * keys, probe_layers and num_classes in model_config), exported by the existing exporter
 * (src/onnx/export.ts: probe layers averaged, eval-mode BatchNorm, ml-aim's pooling, logits)
 * and run in onnxruntime-node gives the logits the WGSL probe gives. Tolerance: 1e-4 of the
 * largest |logit| (+1e-5): both are f32 with different summation orders through 2 blocks of
 * width 64 and the probe (each side's trunk ≤ 3e-6 from float64, onnxCrossCheck.test.ts);
 * a wrong layer set, a missing BatchNorm or the unscaled query changes logits by ≥ 1e-2 of
 * their size.
 */
describe('a probe trained here: WGSL and the exported ONNX agree', () => {
  it('attentive logits match in onnxruntime', { timeout: 900_000 }, async () => {
    const ctx = await testGpu();
    const config = PRESETS['aim-micro'];
    const params = initParameters(config, 11);
    const data = makeProceduralDataset({ size: 16, trainCount: 48, valCount: 6, seed: 4 });
    const split = (set: typeof data.train) => {
      const b = evalBatch(
        set,
        Array.from({ length: set.count }, (_, i) => i),
        config.imageSize,
      );
      return { images: b.images, labels: b.labels };
    };
    const heldOut = split(data.val);
    const [probe] = await trainProbes(ctx, {
      config,
      params,
      train: split(data.train),
      heldOut,
      numClasses: 8,
      kinds: ['attentive'],
      layers: 2,
      causal: false,
      recipe: { ...PROBE_RECIPE, epochs: 3, batch: 16 },
    });
    const file = encodeProbeFile(config, params, probe.weights, {
      kind: 'attentive',
      layers: 2,
      causal: false,
    });
    // The probe file round-trips and classifies as the trained probe evaluated.
    const decoded = decodeProbeFile(file);
    const wgsl = await classifyWithProbe(ctx, {
      config: decoded.config,
      params: decoded.params,
      kind: 'attentive',
      layers: 2,
      causal: false,
      classes: decoded.classes,
      images: heldOut.images,
    });
    const trained = probe.predictions.flatMap((p) => p.logits);
    const scale = Math.max(...trained.map(Math.abs));
    expect(worstRatio(wgsl, trained, 1e-6 * scale)).toBeLessThanOrEqual(1);

    const opened = await openWeights([
      blobByteSource(new Blob([file.slice().buffer]), 'probe.safetensors'),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'aim-probe-onnx-'));
    await exportAimOnnx(
      { config: parseAimConfig(opened.embeddedConfig), weights: opened.weights },
      await directorySink(dir),
      { format: 'fp32' },
    );
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const out = await session.run({
      images: new ort.Tensor('float32', heldOut.images, [6, 3, config.imageSize, config.imageSize]),
    });
    await session.release();
    expect(out.logits.dims).toEqual([6, 8]);
    const onnx = out.logits.data as Float32Array;
    expect(worstRatio(onnx, wgsl, 1e-4 * scale + 1e-5)).toBeLessThanOrEqual(1);
    // The tolerance is not vacuous: the probe with its BatchNorm statistics dropped differs.
    const noBn = new Map(decoded.params);
    noBn.set('head.bn.running_mean', new Float32Array(config.width));
    noBn.set('head.bn.running_var', new Float32Array(config.width).fill(1));
    const withoutBn = await classifyWithProbe(ctx, {
      config,
      params: noBn,
      kind: 'attentive',
      layers: 2,
      causal: false,
      classes: 8,
      images: heldOut.images,
    });
    expect(worstRatio(onnx, withoutBn, 1e-4 * scale + 1e-5)).toBeGreaterThan(10);
  });
});
