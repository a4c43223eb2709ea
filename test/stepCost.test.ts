/**
 * The step's FLOPs from the shape alone (what the page's time estimate divides by a measured
 * rate) against the costs a real Trainer's dispatches declare — the same numbers the step
 * profile sums — for causal and prefix attention, with the MLP head and with none.
 */
import { describe, expect, it } from 'vitest';
import { makeProceduralDataset } from '../src/data/procedural';
import { expectedHeadRows, trainingStepFlops } from '../src/model/stepCost';
import { defaultsFor, modelConfigFor, type RunSettings } from '../src/training/settings';
import { Trainer } from '../src/training/trainer';
import { testGpu } from './gpuContext';

const micro: RunSettings = {
  ...defaultsFor('aim-micro'),
  batch: 4,
  steps: 4,
  evalEvery: 1_000_000,
  checkpointEvery: 0,
  seed: 0,
};

async function declaredFlops(settings: RunSettings): Promise<number> {
  const ctx = await testGpu();
  const dataset = makeProceduralDataset({ size: 16, trainCount: 8, valCount: 1, seed: 1 });
  const trainer = await Trainer.create(ctx, settings, dataset);
  try {
    trainer.loadStep();
    return trainer.dispatches.reduce((sum, d) => sum + (d.cost?.flops ?? 0), 0);
  } finally {
    trainer.destroy();
  }
}

describe('trainingStepFlops', () => {
  it('counts the head rows the loss uses', () => {
    expect(expectedHeadRows(16, false)).toBe(15);
    expect(expectedHeadRows(16, true)).toBe(8);
    expect(expectedHeadRows(1, true)).toBe(0);
  });

  it('grows linearly in the batch and splits into trunk, attention and head', () => {
    const config = modelConfigFor(micro);
    const one = trainingStepFlops(config, 1, { prefix: true });
    const eight = trainingStepFlops(config, 8, { prefix: true });
    expect(eight.total).toBeCloseTo(8 * one.total, 0);
    expect(one.total).toBe(one.trunk + one.attention + one.head);
    expect(one.head).toBeGreaterThan(0);
    // Causal attention counts all but one position in the head: more head work than prefix.
    expect(trainingStepFlops(config, 1, { prefix: false }).head).toBeGreaterThan(one.head);
  });

  it('matches the dispatches a causal aim-micro step declares (the model leaves out a few per cent)', async () => {
    const settings = { ...micro, prefix: false };
    const declared = await declaredFlops(settings);
    const modeled = trainingStepFlops(modelConfigFor(settings), settings.batch, { prefix: false });
    // The head's rows are padded to its row bucket on the GPU, and the elementwise kernels
    // declare a few FLOPs the model leaves out: the model may be a little low, never high.
    expect(modeled.total).toBeLessThanOrEqual(declared * 1.001);
    expect(modeled.total).toBeGreaterThan(declared * 0.85);
  }, 400_000);
});
