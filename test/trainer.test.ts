import { describe, expect, it } from 'vitest';
import { makeProceduralDataset } from '../src/data/procedural';
import { defaultsFor, type RunSettings } from '../src/training/settings';
import { NonFiniteError, Trainer } from '../src/training/trainer';
import { testGpu } from './gpuContext';

const dataset = makeProceduralDataset({ size: 16, trainCount: 256, valCount: 32, seed: 5 });

function microSettings(overrides: Partial<RunSettings> = {}): RunSettings {
  return {
    ...defaultsFor('aim-micro'),
    batch: 8,
    steps: 16,
    lr: 3e-3,
    evalEvery: 1000,
    evalImages: 16,
    checkpointEvery: 0,
    seed: 11,
    ...overrides,
  };
}

// Real training steps on a CPU adapter: ~1 s each alone, several times that on a loaded 2-core
// machine, hence the generous per-test limit.
describe('Trainer (aim-micro on SwiftShader)', { timeout: 400_000 }, () => {
  it('the training loss falls over a short real run', async () => {
    const ctx = await testGpu();
    const trainer = await Trainer.create(ctx, microSettings(), dataset);
    const losses: number[] = [];
    // (logged so a CI log shows the curve)
    while (!trainer.done) losses.push((await trainer.trainStep()).trainLoss);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(losses.slice(0, 5));
    const last = mean(losses.slice(-5));
    console.log(`aim-micro training losses: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    expect(last).toBeLessThan(0.8 * first);
    const evaluation = await trainer.evaluate();
    expect(evaluation.chunkLoss).toHaveLength(8);
    expect(evaluation.chunkLoss.every(Number.isFinite)).toBe(true);
    // One mean per position t = 0 … 14 (targets 1 … 15 of the 4×4 grid), rounded to 4
    // significant digits; their chunk means are the chunk loss (2 positions a chunk, C = 8).
    const positionLoss = evaluation.positionLoss!;
    expect(positionLoss).toHaveLength(15);
    expect(positionLoss.every(Number.isFinite)).toBe(true);
    evaluation.chunkLoss.forEach((v, c) => {
      const ts = [2 * c - 1, 2 * c].filter((t) => t >= 0);
      const mean = ts.reduce((a, t) => a + positionLoss[t], 0) / ts.length;
      expect(Math.abs(mean - v)).toBeLessThan(1e-3 * Math.abs(v));
    });
    const [shown] = await trainer.predictions(1);
    expect(shown.original).toHaveLength(16 * 16 * 3);
    expect(shown.predicted).toHaveLength(16 * 16 * 3);
    // The first patch of the sequence has no prediction and is the image itself; the rest differ.
    expect(shown.predicted).not.toEqual(shown.original);
    trainer.destroy();
  });

  it('resumes from a checkpoint bit-exactly', async () => {
    const ctx = await testGpu();
    const settings = microSettings({ steps: 6 });
    const straight = await Trainer.create(ctx, settings, dataset);
    const straightLosses: number[] = [];
    let saved: Uint8Array | undefined;
    while (!straight.done) {
      straightLosses.push((await straight.trainStep()).trainLoss);
      if (straight.step === 3) saved = await straight.checkpoint();
    }
    const finalStraight = await straight.model.downloadParameters();
    straight.destroy();

    const resumed = await Trainer.create(ctx, settings, dataset, { checkpoint: saved });
    expect(resumed.step).toBe(3);
    const resumedLosses: number[] = [];
    while (!resumed.done) resumedLosses.push((await resumed.trainStep()).trainLoss);
    expect(resumedLosses).toEqual(straightLosses.slice(3));
    const finalResumed = await resumed.model.downloadParameters();
    for (const [name, values] of finalStraight) {
      expect(new Uint8Array(finalResumed.get(name)!.buffer), name).toEqual(
        new Uint8Array(values.buffer),
      );
    }
    resumed.destroy();
  });

  it('batches assembled on the GPU train exactly as on the CPU: losses, evaluation, checkpoint', async () => {
    const ctx = await testGpu();
    // An odd batch, the causal baseline off (prefixes drawn after the crops, as before).
    const settings = microSettings({ steps: 3, batch: 5, evalImages: 7 });
    const run = async (batches: 'gpu' | 'cpu') => {
      const trainer = await Trainer.create(ctx, settings, dataset, { batches });
      expect(trainer.dataBytes > 0).toBe(batches === 'gpu');
      const losses: number[] = [];
      while (!trainer.done) {
        const m = await trainer.trainStep();
        losses.push(m.trainLoss, m.gradNorm);
      }
      const evaluation = await trainer.evaluate();
      const checkpoint = await trainer.checkpoint();
      trainer.destroy();
      return { losses, evaluation, checkpoint };
    };
    const gpu = await run('gpu');
    const cpu = await run('cpu');
    expect(gpu.losses).toEqual(cpu.losses);
    expect(gpu.evaluation).toEqual(cpu.evaluation);
    expect(gpu.checkpoint).toEqual(cpu.checkpoint);
  });

  it('with colour jitter (CPU batches drawn a step ahead) resumes bit-exactly', async () => {
    const ctx = await testGpu();
    const settings = microSettings({ steps: 4, colorJitter: true });
    const straight = await Trainer.create(ctx, settings, dataset);
    expect(straight.dataBytes).toBe(0);
    const losses: number[] = [];
    let saved: Uint8Array | undefined;
    while (!straight.done) {
      losses.push((await straight.trainStep()).trainLoss);
      // Step 3's draws are made by now: the checkpoint must hold the state from before them.
      if (straight.step === 2) saved = await straight.checkpoint();
    }
    straight.destroy();
    const resumed = await Trainer.create(ctx, settings, dataset, { checkpoint: saved });
    const resumedLosses: number[] = [];
    while (!resumed.done) resumedLosses.push((await resumed.trainStep()).trainLoss);
    resumed.destroy();
    expect(resumedLosses).toEqual(losses.slice(2));
  });

  it('stops on a NaN with the step and leaves the parameters as they were', async () => {
    const ctx = await testGpu();
    const trainer = await Trainer.create(ctx, microSettings({ steps: 5 }), dataset);
    await trainer.trainStep();
    const name = 'trunk.blocks.0.mlp.fc1.weight';
    const poisoned = await trainer.model.downloadParameter(name);
    poisoned[3] = NaN;
    trainer.model.uploadParameter(name, poisoned);
    const before = await trainer.model.downloadParameters();
    const failure = await trainer.trainStep().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(NonFiniteError);
    expect((failure as NonFiniteError).step).toBe(1);
    expect(trainer.step).toBe(1);
    const after = await trainer.model.downloadParameters();
    for (const [key, values] of before) {
      expect(new Uint8Array(after.get(key)!.buffer), key).toEqual(new Uint8Array(values.buffer));
    }
    trainer.destroy();
  });
});
