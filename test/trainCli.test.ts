import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../src/training/checkpoint';

function train(args: string[]) {
  const result = spawnSync(process.execPath, ['scripts/train.mjs', ...args], {
    encoding: 'utf8',
    env: process.env,
  });
  return { code: result.status, stderr: result.stderr };
}

function metrics(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('npm run train (headless, Node through Dawn)', () => {
  it('writes metrics.jsonl and a checkpoint it can resume from', () => {
    const out = mkdtempSync(join(tmpdir(), 'aim-train-'));
    const common = [
      '--preset',
      'aim-micro',
      '--batch',
      '4',
      '--eval-every',
      '2',
      '--eval-images',
      '8',
      '--dataset',
      'procedural',
    ];
    const first = train([
      ...common,
      '--steps',
      '6',
      '--checkpoint-every',
      '2',
      '--out',
      out,
      '--seed',
      '3',
    ]);
    expect(first.code, first.stderr).toBe(0);
    const lines = metrics(out);
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const line of lines) {
      for (const key of ['trainLoss', 'lr', 'imgPerSec'])
        expect(Number.isFinite(line[key]), key).toBe(true);
    }
    const evals = lines.filter((l) => 'valLoss' in l);
    expect(evals.map((l) => l.step)).toEqual([2, 4, 6]);
    for (const e of evals) expect((e.chunkLoss as number[]).length).toBe(8);
    const checkpoint = decodeCheckpoint(
      new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors'))),
    );
    expect(checkpoint.step).toBe(6);
    expect(checkpoint.params.has('trunk.blocks.1.attn.qkv.weight')).toBe(true);

    const resumedOut = mkdtempSync(join(tmpdir(), 'aim-train-resume-'));
    const resumed = train([
      ...common,
      '--steps',
      '8',
      '--out',
      resumedOut,
      '--seed',
      '3',
      '--resume',
      join(out, 'checkpoint.safetensors'),
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(metrics(resumedOut).map((l) => l.step)).toEqual([7, 8]);
  }, 400_000);

  it('trains the paper’s variants from flags and records them (raw targets, no head, custom trunk)', () => {
    const out = mkdtempSync(join(tmpdir(), 'aim-train-paper-'));
    const run = train([
      ...['--preset', 'aim-micro', '--targets', 'raw', '--head', 'none', '--width', '48'],
      ...['--depth', '2', '--steps', '2', '--batch', '4', '--eval-every', '2'],
      ...['--eval-images', '8', '--dataset', 'procedural', '--out', out],
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(metrics(out).map((l) => l.step)).toEqual([1, 2]);
    const settings = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(settings).toMatchObject({ targets: 'raw', headKind: 'none', width: 48, depth: 2 });
    const checkpoint = decodeCheckpoint(
      new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors'))),
    );
    expect(checkpoint.runConfig).toMatchObject({ targets: 'raw', headKind: 'none', width: 48 });
    expect(checkpoint.modelConfig).toMatchObject({
      name: 'aim-micro (custom)',
      width: 48,
      depth: 2,
      targets: 'raw',
      head: { kind: 'none' },
    });
    // No head: proj_out reads the trunk's 48 features; nothing of the MLP head exists.
    expect(checkpoint.params.get('head.proj_out.weight')?.shape).toEqual([48, 48]);
    expect(checkpoint.params.get('trunk.blocks.1.attn.qkv.weight')?.shape).toEqual([144, 48]);
    expect([...checkpoint.params.keys()].filter((k) => k.startsWith('head.'))).toEqual([
      'head.proj_out.weight',
      'head.proj_out.bias',
    ]);
  }, 400_000);

  it('refuses a trunk shape that cannot be built before training, saying why', () => {
    const bad = train(['--preset', 'aim-micro', '--width', '50', '--out', '/tmp/x']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('Trunk width 50 must be divisible by 4');
    expect(bad.stderr).toContain('usage: npm run train');
  }, 60_000);

  it('refuses bad flags with the usage text', () => {
    const bad = train(['--preset', 'aim-huge', '--out', '/tmp/x']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('Unknown preset "aim-huge"');
    expect(bad.stderr).toContain('usage: npm run train');
  }, 60_000);
});
