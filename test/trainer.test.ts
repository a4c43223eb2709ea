/**
 * The Trainer on aim-micro. The pipelined loop — trainStep({ submitNext }), the next step queued
 * before this one is read — is held to the serial one bit for bit in the resume and GPU-vs-CPU
 * tests, and to the same NaN stop in the last.
 */
import { describe, expect, it } from 'vitest';
import { makeProceduralDataset } from '../src/data/procedural';
import { defaultsFor, type RunSettings } from '../src/training/settings';
import { NonFiniteError, Trainer, type StepMetrics } from '../src/training/trainer';
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

/** What a step reports that does not depend on the wall clock. */
const numbers = ({ step, trainLoss, lr, gradNorm }: StepMetrics) => ({
  step,
  trainLoss,
  lr,
  gradNorm,
});

/** Bytes compared without a diff of megabytes on failure: the first differing index, or −1. */
function firstDifference(a: Uint8Array | undefined, b: Uint8Array | undefined): number {
  if (!a || !b) return 0;
  if (a.length !== b.length) return Math.min(a.length, b.length);
  return a.findIndex((v, i) => v !== b[i]);
}

/** Names of the gradients whose bits differ between the two trainers. */
async function differingGradients(x: Trainer, y: Trainer): Promise<string[]> {
  const differ: string[] = [];
  for (const { name } of x.model.specs) {
    const [gx, gy] = await Promise.all(
      [x, y].map(async (t) => new Uint8Array((await t.model.gradient(name).download()).buffer)),
    );
    if (firstDifference(gx, gy) !== -1) differ.push(name);
  }
  return differ;
}

/** One step of a finite loss whose gradient norm overflows (Σg² past f32's range). */
async function poisonHead(trainer: Trainer): Promise<void> {
  const name = 'head.proj_out.weight';
  const w = await trainer.model.downloadParameter(name);
  trainer.model.uploadParameter(
    name,
    w.map((v) => v * 1e16),
  );
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

  it('resumes from a checkpoint bit-exactly (the straight run pipelined, the resumed one serial)', async () => {
    const ctx = await testGpu();
    const settings = microSettings({ steps: 6 });
    const straight = await Trainer.create(ctx, settings, dataset);
    const straightLosses: number[] = [];
    let saved: Uint8Array | undefined;
    while (!straight.done) {
      // Each step queues the next before its results are read (submitNext), but step 3: a
      // checkpoint is taken after it, and nothing may be in flight then.
      const m = await straight.trainStep({ submitNext: straight.step + 1 !== 3 });
      straightLosses.push(m.trainLoss);
      if (m.step === 1) {
        expect(straight.stepInFlight).toBe(true);
        await expect(straight.checkpoint()).rejects.toThrow(/step 2 is in flight/);
        await expect(straight.evaluate()).rejects.toThrow(/in flight/);
      }
      if (straight.step === 3) saved = await straight.checkpoint();
    }
    expect(straight.stepInFlight).toBe(false);
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
        // The GPU path pipelined (the next step queued before this one is read), the CPU
        // path serial: the same bits either way.
        const m = await trainer.trainStep({ submitNext: batches === 'gpu' });
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

  it('a NaN found with the next step queued stops at that step with its state and gradients; a restore trains again', async () => {
    const ctx = await testGpu();
    const failed = async (pipelined: boolean) => {
      const trainer = await Trainer.create(ctx, microSettings({ steps: 4 }), dataset);
      await trainer.trainStep();
      const clean = await trainer.checkpoint();
      await poisonHead(trainer);
      const error = await trainer.trainStep({ submitNext: pipelined }).catch((e: unknown) => e);
      return { trainer, clean, error: error as NonFiniteError };
    };
    const serial = await failed(false);
    const piped = await failed(true);
    expect(serial.error).toBeInstanceOf(NonFiniteError);
    expect(piped.error).toBeInstanceOf(NonFiniteError);
    expect([piped.error.step, piped.error.tensor]).toEqual([1, serial.error.tensor]);
    expect(piped.trainer.step).toBe(1);
    expect(piped.trainer.stepInFlight).toBe(false);
    // Step 2 ran on the GPU meanwhile: its update was skipped too (the halt), and step 1 ran
    // again for its gradients, so parameters, moments, RNG and gradients are the serial run's.
    const [pipedState, serialState] = [
      await piped.trainer.checkpoint(),
      await serial.trainer.checkpoint(),
    ];
    expect(firstDifference(pipedState, serialState)).toBe(-1);
    expect(await differingGradients(piped.trainer, serial.trainer)).toEqual([]);

    // Restoring the clean checkpoint lifts the halt: the next step updates as a fresh run's.
    const fresh = await Trainer.create(ctx, microSettings({ steps: 4 }), dataset, {
      checkpoint: piped.clean,
    });
    await piped.trainer.restore(piped.clean);
    expect(numbers(await piped.trainer.trainStep())).toEqual(numbers(await fresh.trainStep()));
    const [restoredState, freshState] = [
      await piped.trainer.checkpoint(),
      await fresh.checkpoint(),
    ];
    expect(firstDifference(restoredState, freshState)).toBe(-1);
    for (const t of [serial.trainer, piped.trainer, fresh]) t.destroy();
  });
});
