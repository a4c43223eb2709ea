/**
 * `npm run scale-out` end to end: a tiny run's checkpoint → bundle (checkpoint.pth in
 * ml-l3m's layout) → `--import` back with its config.yaml → this project's checkpoint with
 * bit-identical ml-aim tensors, which `npm run export` turns into ONNX.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initParameters, paramSpecs } from '../src/model/params';
import { decodeCheckpoint, encodeCheckpoint, type NamedTensor } from '../src/training/checkpoint';
import { defaultsFor, modelConfigFor, type RunSettings } from '../src/training/settings';

function run(script: string, args: string[]) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('npm run scale-out', () => {
  it('writes a bundle from a run and brings its checkpoint back bit-identical', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aim-scale-out-'));
    const settings: RunSettings = {
      ...defaultsFor('aim-micro'),
      batch: 12,
      steps: 30,
      ordering: 'spiral',
      headExtraNormTerm: false,
    };
    const config = modelConfigFor(settings);
    const values = initParameters(config, 3);
    const params = new Map<string, NamedTensor>(
      paramSpecs(config).map((s, i) => [
        s.name,
        { shape: s.shape, data: values.get(s.name)!.map((x, j) => x + ((i + j) % 7) * 1e-3) },
      ]),
    );
    const ckpt = join(dir, 'checkpoint.safetensors');
    writeFileSync(
      ckpt,
      encodeCheckpoint({ params, step: 30, rngState: 9, modelConfig: config, runConfig: settings }),
    );
    writeFileSync(join(dir, 'settings.json'), JSON.stringify(settings));

    const bundleDir = join(dir, 'bundle');
    const out = run('scripts/scale-out.mjs', [
      '--run',
      join(dir, 'settings.json'),
      '--checkpoint',
      ckpt,
      '--world-size',
      '4',
      '--out',
      bundleDir,
    ]);
    expect(out.err).toBe('');
    expect(out.code).toBe(0);
    expect(out.out).toMatch(
      /Not carried over: .*Patch ordering \(ml-l3m’s AIM v1 path cannot express it/,
    );
    for (const f of [
      'config.yaml',
      'launch.sh',
      'README.md',
      'checkpoint.pth',
      'playground_orderings.py',
    ])
      expect(existsSync(join(bundleDir, f)), f).toBe(true);
    expect(readFileSync(join(bundleDir, 'config.yaml'), 'utf8')).toMatch(/batch_size_per_gpu: 3\n/);

    // A batch that does not split over the GPUs is refused with a sentence.
    const bad = run('scripts/scale-out.mjs', [
      '--run',
      join(dir, 'settings.json'),
      '--world-size',
      '5',
      '--out',
      join(dir, 'bad'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/batch 12 does not split over 5 GPUs/);

    const back = join(dir, 'back');
    const imported = run('scripts/scale-out.mjs', [
      '--import',
      join(bundleDir, 'checkpoint.pth'),
      '--config',
      join(bundleDir, 'config.yaml'),
      '--out',
      back,
    ]);
    expect(imported.err).toBe('');
    expect(imported.code).toBe(0);
    const read = decodeCheckpoint(
      new Uint8Array(readFileSync(join(back, 'checkpoint.safetensors'))),
    );
    expect([...read.params.keys()].sort()).toEqual([...params.keys()].sort());
    for (const [k, t] of params) {
      const got = read.params.get(k)!;
      expect(got.shape, k).toEqual([...t.shape]);
      expect(new Uint32Array(got.data.buffer, got.data.byteOffset, got.data.length), k).toEqual(
        new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
      );
    }
    expect(JSON.parse(readFileSync(join(back, 'config.json'), 'utf8'))).toEqual({
      img_size: 16,
      patch_size: 4,
      embed_dim: 64,
      num_blocks: 2,
      num_heads: 2,
    });

    const onnx = join(dir, 'onnx');
    const exported = run('scripts/export.mjs', [back, '--format', 'fp32', '--out', onnx]);
    expect(exported.code, exported.err).toBe(0);
    expect(existsSync(join(onnx, 'model.onnx'))).toBe(true);
  }, 120_000);
});
