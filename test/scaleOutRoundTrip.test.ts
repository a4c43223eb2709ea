/**
 * A tiny run's bundle round-trips: its checkpoint, converted to ml-l3m's state dict and
 * written as torch.save, reads back through the restricted reader (the same openWeights the
 * exporter and the Inference tab use) as bit-identical ml-aim tensors, and exports to ONNX.
 */
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { modelConfigFor, defaultsFor, type RunSettings } from '../src/training/settings';
import { encodeCheckpoint, type NamedTensor } from '../src/training/checkpoint';
import { initParameters, paramSpecs } from '../src/model/params';
import { bytesByteSource } from '../src/onnx/byteSource';
import { openWeights, parseAimConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx } from '../src/onnx/export';
import { memoryDataSink } from '../src/onnx/externalData';
import { openTorchCheckpoint } from '../src/onnx/torchZip';
import { buildBundle, zipBundle } from '../src/scaleout/bundle';
import { aimToL3m, l3mToAim, mapWeightSource } from '../src/scaleout/stateDict';
import { statePickle, storedZip, torchSaveStateDict } from '../src/scaleout/torchSave';
import { parseYaml, type YamlMap } from '../src/scaleout/yaml';

function tinyRun(overrides: Partial<RunSettings> = {}) {
  const settings: RunSettings = { ...defaultsFor('aim-micro'), batch: 8, steps: 10, ...overrides };
  const config = modelConfigFor(settings);
  const values = initParameters(config, 7);
  // Make every value distinct from its init pattern (biases and norms included), as after training.
  let n = 0;
  const params = new Map<string, NamedTensor>();
  for (const spec of paramSpecs(config)) {
    const data = values.get(spec.name)!.map((x) => x + ((n++ % 997) - 498) * 1e-4);
    params.set(spec.name, { shape: spec.shape, data });
  }
  const checkpoint = encodeCheckpoint({
    params,
    step: 10,
    rngState: 1,
    modelConfig: config,
    runConfig: settings,
  });
  return { settings, config, params, checkpoint };
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

async function expectBitIdentical(
  read: Map<string, { shape: readonly number[]; data: Float32Array }>,
  params: Map<string, NamedTensor>,
) {
  expect([...read.keys()].sort()).toEqual([...params.keys()].sort());
  for (const [key, t] of params) {
    expect(read.get(key)!.shape, key).toEqual([...t.shape]);
    expect(bits(read.get(key)!.data), key).toEqual(bits(t.data));
  }
}

describe('scale-out: checkpoint round trip', () => {
  for (const extra of [false, true]) {
    it(`playground → ml-l3m torch.save → ml-aim keys is bit-identical (head extra norm ${extra ? 'on' : 'off'})`, async () => {
      const run = tinyRun({ headExtraNormTerm: extra });
      const bundle = buildBundle({
        kind: 'run',
        settings: run.settings,
        checkpoint: run.checkpoint,
        options: { worldSize: 2, dataTrain: '/d/train', dataVal: '/d/val', dtype: 'bfloat16' },
      });
      const pth = bundle.files.get('checkpoint.pth')!;
      // ml-l3m's layout: its module names and separate q/k/v.
      const raw = await openTorchCheckpoint(bytesByteSource(pth, 'checkpoint.pth'));
      const keys = [...raw.tensors.keys()];
      expect(keys).toContain('preprocessor.blocks.0.patchifier.proj.weight');
      expect(keys).toContain('trunk.blocks.1.attn.q_proj.weight');
      expect(keys).toContain('head.decoder_blocks.0.norm_1.weight');
      expect(keys).toContain('head.decoder_pred.bias');
      expect(keys.some((k) => k.includes('qkv'))).toBe(false);
      // The exporter's reader sees ml-aim keys (norm_1 kept as the extra term's norm).
      const opened = await openWeights([bytesByteSource(pth, 'checkpoint.pth')]);
      expect(opened.weights.has('trunk.blocks.0.attn.qkv.weight')).toBe(true);
      expect(opened.weights.info('trunk.blocks.0.attn.qkv.weight').shape).toEqual([192, 64]);
      // Back to the playground's keys: the very same bits.
      await expectBitIdentical(await l3mToAim(opened.weights), run.params);
    });
  }

  it('writes the zero head norm_1 that keeps a no-extra-term head exact in ml-l3m', () => {
    const run = tinyRun();
    const l3m = aimToL3m(run.params);
    const w = l3m.get('head.decoder_blocks.0.norm_1.weight')!;
    expect(w.data.every((x) => x === 0)).toBe(true);
    expect(run.params.has('head.blocks.0.norm_extra.weight')).toBe(false);
  });

  it('exports the ml-l3m checkpoint to ONNX like any other', async () => {
    const run = tinyRun();
    const pth = torchSaveStateDict(aimToL3m(run.params));
    const opened = await openWeights([bytesByteSource(pth, 'checkpoint.pth')]);
    const sink = memoryDataSink();
    const result = await exportAimOnnx(
      { config: parseAimConfig(run.config), weights: opened.weights },
      sink,
      { format: 'fp32', exportId: 'scale-out-test' },
    );
    expect(sink.files.get(result.modelFile)!.byteLength).toBeGreaterThan(1000);
  });

  it('reads ml-l3m’s consolidated layout: weights nested under "model", with DDP/compile prefixes', async () => {
    const run = tinyRun();
    const l3m = aimToL3m(run.params);
    const keys = [...l3m.keys()].map((k) => `module._orig_mod.${k}`);
    const inner = statePickle(
      keys,
      [...l3m.values()].map((t) => t.shape),
    );
    // {"model": OrderedDict(...), "iteration": 5}: PROTO 2, EMPTY_DICT, MARK, key, value, …, SETITEMS.
    const key = (k: string) => [0x58, k.length, 0, 0, 0, ...new TextEncoder().encode(k)];
    const pickle = Uint8Array.from([
      0x80,
      2,
      0x7d,
      0x28,
      ...key('model'),
      ...inner.subarray(2, inner.length - 1),
      ...key('iteration'),
      0x4b,
      5,
      0x75,
      0x2e,
    ]);
    const entries = [
      { name: 'ckpt/data.pkl', data: pickle },
      ...[...l3m.values()].map((t, i) => ({
        name: `ckpt/data/${i}`,
        data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      })),
    ];
    const opened = await openWeights([bytesByteSource(storedZip(entries), 'checkpoint.pth')]);
    await expectBitIdentical(await l3mToAim(opened.weights), run.params);
    // The in-memory view reads the same.
    await expectBitIdentical(
      await l3mToAim(mapWeightSource(new Map([...l3m].map(([k, v]) => [`module.${k}`, v])))),
      run.params,
    );
  });

  it('bundles config, launch script, checkpoint, README and the ordering blocks', () => {
    const run = tinyRun({ ordering: 'spiral' });
    const bundle = buildBundle({
      kind: 'run',
      settings: run.settings,
      checkpoint: run.checkpoint,
      options: { worldSize: 4, dataTrain: '/d/train', dataVal: '/d/val', dtype: 'bfloat16' },
    });
    const zip = unzipSync(zipBundle(bundle, 'run'));
    expect(Object.keys(zip).sort()).toEqual(
      [
        'run/README.md',
        'run/checkpoint.pth',
        'run/config.yaml',
        'run/launch.sh',
        'run/playground_orderings.py',
      ].sort(),
    );
    const readme = new TextDecoder().decode(zip['run/README.md']);
    expect(readme).toMatch(/PyTorch ≥ 2\.7/);
    expect(readme).toMatch(/TRAIN_DIR\/<class>\/<image>\.jpg/);
    const launch = new TextDecoder().decode(zip['run/launch.sh']);
    expect(launch).toMatch(/torchrun --nnodes=1/);
    expect(launch).toMatch(/--nnodes="\$NNODES"/);
    expect(launch).toMatch(/model\.checkpoint=\$BUNDLE\/checkpoint\.pth/);
    const config = parseYaml(bundle.configYaml) as YamlMap;
    expect((config.model as YamlMap).checkpoint).toBe('checkpoint.pth');
  });
});
