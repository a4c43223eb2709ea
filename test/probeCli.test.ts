import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evalBatch } from '../src/data/batch';
import { makeProceduralDataset } from '../src/data/procedural';
import { writeSafetensors } from '../src/data/safetensors';
import { decodeProbeFile } from '../src/probe/probeFile';

function run(script: string, args: string[]) {
  const result = spawnSync(process.execPath, [script, ...args], {
    encoding: 'utf8',
    env: process.env,
  });
  return { code: result.status, stderr: result.stderr };
}

interface Prediction {
  index: number;
  label: number;
  predicted: number;
  logits: number[];
}

describe('npm run probe (headless, Node through Dawn)', () => {
  it(
    'probes a checkpoint from npm run train, then classifies with the probe file',
    { timeout: 1_800_000 },
    () => {
      const runDir = mkdtempSync(join(tmpdir(), 'aim-probe-train-'));
      const trained = run('scripts/train.mjs', [
        ...['--preset', 'aim-micro', '--batch', '8', '--steps', '4', '--eval-every', '4'],
        ...['--eval-images', '8', '--dataset', 'procedural', '--seed', '1', '--out', runDir],
      ]);
      expect(trained.code, trained.stderr).toBe(0);
      const out = mkdtempSync(join(tmpdir(), 'aim-probe-out-'));
      const probed = run('scripts/probe.mjs', [
        ...['--checkpoint', join(runDir, 'checkpoint.safetensors'), '--kind', 'both'],
        ...['--layers', '1', '--dataset', 'procedural', '--train-images', '96'],
        ...['--held-out-images', '16', '--epochs', '8', '--batch', '16', '--out', out],
      ]);
      expect(probed.code, probed.stderr).toBe(0);
      for (const kind of ['attentive', 'linear']) {
        const dir = join(out, kind);
        for (const f of ['probe.safetensors', 'probe.json', 'predictions.jsonl'])
          expect(existsSync(join(dir, f)), `${kind}/${f}`).toBe(true);
        const info = JSON.parse(readFileSync(join(dir, 'probe.json'), 'utf8')) as Record<
          string,
          unknown
        >;
        expect(info.kind).toBe(kind);
        expect(info.layers).toBe(1);
        expect(info.causal).toBe(false);
        for (const key of ['top1', 'trainTop1'] as const) {
          expect(typeof info[key]).toBe('number');
          expect(info[key]).toBeGreaterThanOrEqual(0);
          expect(info[key]).toBeLessThanOrEqual(1);
        }
        expect((info.recipe as { epochs: number }).epochs).toBe(8);
        // Eight procedural classes (chance 1/8): the probe must fit its training images.
        expect(info.trainTop1 as number, kind).toBeGreaterThan(kind === 'attentive' ? 0.3 : 0.2);
        const lines = readFileSync(join(dir, 'predictions.jsonl'), 'utf8').trim().split('\n');
        expect(lines).toHaveLength(16);
        const first = JSON.parse(lines[0]) as Prediction;
        expect(first.index).toBe(0);
        expect(first.logits).toHaveLength(8);
        const file = decodeProbeFile(new Uint8Array(readFileSync(join(dir, 'probe.safetensors'))));
        expect(file.info.kind).toBe(kind);
        expect(file.params.has('trunk.blocks.1.attn.qkv.weight')).toBe(true);
        expect(file.params.has('head.cls_token')).toBe(kind === 'attentive');
        expect(file.params.has('head.bn.running_var')).toBe(true);
      }

      // --classify on the first three held-out images (as the CLI preprocessed them).
      const data = makeProceduralDataset({ trainCount: 2000, valCount: 500, size: 32, seed: 0 });
      const images = evalBatch(data.val, [0, 1, 2], 16).images;
      const input = join(out, 'input.safetensors');
      writeFileSync(
        input,
        writeSafetensors({ input: { dtype: 'F32', shape: [3, 3, 16, 16], data: images } }),
      );
      const classifyDir = join(out, 'classify');
      const classified = run('scripts/probe.mjs', [
        ...['--probe', join(out, 'attentive', 'probe.safetensors'), '--classify', input],
        ...['--out', classifyDir],
      ]);
      expect(classified.code, classified.stderr).toBe(0);
      const logits = JSON.parse(
        readFileSync(join(classifyDir, 'logits.json'), 'utf8'),
      ) as number[][];
      expect(logits.map((r) => r.length)).toEqual([8, 8, 8]);
      const predictions = readFileSync(join(out, 'attentive', 'predictions.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .slice(0, 3)
        .map((l) => (JSON.parse(l) as Prediction).logits);
      const scale = Math.max(...predictions.flat().map(Math.abs));
      for (let b = 0; b < 3; b++)
        for (let c = 0; c < 8; c++)
          expect(Math.abs(logits[b][c] - predictions[b][c])).toBeLessThanOrEqual(1e-5 * scale);
    },
  );

  it('refuses bad flags with the usage text', () => {
    const missing = run('scripts/probe.mjs', ['--kind', 'both']);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain('--out DIR is required');
    expect(missing.stderr).toContain('usage: npm run probe');
    const bad = run('scripts/probe.mjs', [
      '--checkpoint',
      '/nonexistent.safetensors',
      '--out',
      tmpdir(),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('cannot read the checkpoint /nonexistent.safetensors');
  }, 120_000);
});
