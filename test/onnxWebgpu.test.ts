/**
 * The exported graphs on onnxruntime's WebGPU execution provider (the one the browser page
 * uses through onnxruntime-web; onnxruntime-node bundles the same EP with its own Dawn,
 * here on SwiftShader through VK_ICD_FILENAMES from vitest.config.ts). CPU fallback is
 * disabled, so a session only opens when every node of the graph — MatMulNBits included —
 * runs on WebGPU; one small model with an op the EP lacks (ONNX Mean) shows the check bites.
 *
 * Tolerances as in onnxExport.test.ts (f32 arithmetic, 1e-4 absolute on O(1–10) values);
 * int4 is compared with the CPU EP running the same file (same dequantized weights). fp16
 * (Cast nodes on f16 initializers, folded at load) is left out to keep SwiftShader's shader
 * compilation under budget; it differs from fp32 only by those Casts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, expect, test } from 'vitest';
import { SafetensorsFile } from '../src/data/safetensors';
import { fileByteSource } from '../src/onnx/byteSource.node';
import { openWeights, parseAimConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx, type WeightFormat } from '../src/onnx/export';
import { ExternalDataWriter } from '../src/onnx/externalData';
import { directorySink } from '../src/onnx/fileSink.node';
import { DataType, GraphBuilder } from '../src/onnx/graph';
import { worstRatio } from './compare';
import { FIXTURE_DIR } from './fixtures';

const ATOL = 1e-4;
const work = mkdtempSync(join(tmpdir(), 'aim-onnx-webgpu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const cases = SafetensorsFile.parse(readFileSync(join(FIXTURE_DIR, 'cases.safetensors')));
const images = cases.float32('input');
const WEBGPU_ONLY: ort.InferenceSession.SessionOptions = {
  executionProviders: ['webgpu'],
  extra: { session: { disable_cpu_ep_fallback: '1' } },
};

async function exportFormat(format: WeightFormat): Promise<string> {
  const source = await fileByteSource(join(FIXTURE_DIR, 'pytorch_model.bin'));
  try {
    const { weights } = await openWeights([source]);
    const config = parseAimConfig(
      JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')),
    );
    const dir = join(work, format);
    await exportAimOnnx({ config, weights }, await directorySink(dir), { format });
    return join(dir, 'model.onnx');
  } finally {
    await source.close();
  }
}

async function run(path: string, options?: ort.InferenceSession.SessionOptions) {
  const session = await ort.InferenceSession.create(path, options);
  try {
    const out = await session.run({ images: new ort.Tensor('float32', images, [2, 3, 32, 32]) });
    return { logits: out.logits.data as Float32Array, features: out.features.data as Float32Array };
  } finally {
    await session.release();
  }
}

test('fp32 on the WebGPU EP, every node on WebGPU, matches ml-aim', async () => {
  const out = await run(await exportFormat('fp32'), WEBGPU_ONLY);
  expect(worstRatio(out.logits, cases.float32('logits'), ATOL)).toBeLessThanOrEqual(1);
  expect(worstRatio(out.features, cases.float32('probe_features'), ATOL)).toBeLessThanOrEqual(1);
});

test('int4 (MatMulNBits) on the WebGPU EP matches the CPU EP', async () => {
  const path = await exportFormat('int4');
  const gpu = await run(path, WEBGPU_ONLY);
  const cpu = await run(path);
  expect(worstRatio(gpu.logits, cpu.logits, ATOL)).toBeLessThanOrEqual(1);
  expect(worstRatio(gpu.features, cpu.features, ATOL)).toBeLessThanOrEqual(1);
});

test('a graph with a node the WebGPU EP lacks does not open with CPU fallback disabled', async () => {
  const dir = join(work, 'mean');
  const sink = await directorySink(dir);
  const g = new GraphBuilder(new ExternalDataWriter(sink, 'model.onnx.data'));
  g.op('Mean', ['x', 'x'], {}, { output: 'y' });
  const file = await sink.create('model.onnx');
  await file.write(
    g.encode({
      graphName: 'mean',
      inputs: [['x', { elemType: DataType.FLOAT, shape: [2] }]],
      outputs: [['y', { elemType: DataType.FLOAT, shape: [2] }]],
      metadata: {},
      producerVersion: 'test',
    }),
  );
  await file.close();
  await expect(ort.InferenceSession.create(join(dir, 'model.onnx'), WEBGPU_ONLY)).rejects.toThrow(
    /fallback to CPU EP has been explicitly disabled/,
  );
});
