/**
 * Trainer.trainStep({ submitNext }): the next step is submitted before this one's loss and
 * gradient norm are read (the worker's loop between evaluations and checkpoints), so the GPU
 * never waits for the host. It must change nothing but the timing: the same metrics and the
 * same state bit for bit as the serial loop, the same stop on a NaN found a step late, with
 * the parameters, moments and gradients of the step that failed.
 */
import { describe, expect, it } from 'vitest';
import { makeProceduralDataset } from '../src/data/procedural';
import { defaultsFor, type RunSettings } from '../src/training/settings';
import { NonFiniteError, Trainer, type StepMetrics } from '../src/training/trainer';
import { testGpu } from './gpuContext';

const dataset = makeProceduralDataset({ size: 16, trainCount: 256, valCount: 32, seed: 5 });

const settings: RunSettings = {
  ...defaultsFor('aim-micro'),
  batch: 8,
  steps: 4,
  lr: 3e-3,
  evalEvery: 1000,
  evalImages: 16,
  checkpointEvery: 0,
  seed: 11,
};

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

describe('Trainer: the next step queued before this one is read', { timeout: 400_000 }, () => {
  it('gives the serial loop’s metrics, checkpoints and evaluation bit for bit', async () => {
    const ctx = await testGpu();
    const serial = await Trainer.create(ctx, settings, dataset);
    const serialMetrics: ReturnType<typeof numbers>[] = [];
    let serialAt2: Uint8Array | undefined;
    while (!serial.done) {
      serialMetrics.push(numbers(await serial.trainStep()));
      if (serial.step === 2) serialAt2 = await serial.checkpoint();
    }
    const serialEnd = await serial.checkpoint();
    const serialEval = await serial.evaluate();
    serial.destroy();

    const piped = await Trainer.create(ctx, settings, dataset);
    const pipedMetrics: ReturnType<typeof numbers>[] = [];
    let pipedAt2: Uint8Array | undefined;
    while (!piped.done) {
      // Every step queues its successor, but step 2 (a checkpoint is taken after it).
      const m = await piped.trainStep({ submitNext: piped.step + 1 !== 2 });
      pipedMetrics.push(numbers(m));
      if (m.step === 1) {
        expect(piped.stepInFlight).toBe(true);
        await expect(piped.checkpoint()).rejects.toThrow(/step 2 is in flight/);
        await expect(piped.evaluate()).rejects.toThrow(/in flight/);
      }
      if (m.step === 2) {
        expect(piped.stepInFlight).toBe(false);
        pipedAt2 = await piped.checkpoint();
      }
    }
    expect(piped.stepInFlight).toBe(false);
    expect(pipedMetrics).toEqual(serialMetrics);
    expect(firstDifference(pipedAt2, serialAt2)).toBe(-1);
    expect(firstDifference(await piped.checkpoint(), serialEnd)).toBe(-1);
    expect(await piped.evaluate()).toEqual(serialEval);
    piped.destroy();
  });

  it('a NaN found with the next step queued stops at that step with its state and gradients; a restore trains again', async () => {
    const ctx = await testGpu();
    const failed = async (pipelined: boolean) => {
      const trainer = await Trainer.create(ctx, settings, dataset);
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
    const fresh = await Trainer.create(ctx, settings, dataset, { checkpoint: piped.clean });
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
