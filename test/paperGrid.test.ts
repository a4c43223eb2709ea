/**
 * A shortened real Table 3b grid on the test GPU (SwiftShader in CI): every ordering trained
 * (one step of two images), evaluated and probed (one epoch of the probes), interrupted after
 * the first cell and resumed — the finished cell is not trained again.
 */
import { describe, expect, it } from 'vitest';
import { makeProceduralDataset } from '../src/data/procedural';
import { tableJson } from '../src/paper/render';
import {
  gridComplete,
  runGrid,
  type GridProgress,
  type GridSpec,
  type GridState,
  type GridStore,
} from '../src/paper/runGrid';
import { testGpu } from './gpuContext';

function memoryStore() {
  const saved: GridState[] = [];
  const checkpoints = new Map<string, Uint8Array>();
  const store: GridStore = {
    async saveState(state) {
      saved.push(JSON.parse(JSON.stringify(state)) as GridState);
    },
    async saveCheckpoint(variant, bytes) {
      checkpoints.set(variant, bytes.slice());
    },
    async loadCheckpoint(variant) {
      return checkpoints.get(variant);
    },
  };
  return { store, saved, checkpoints };
}

const spec: GridSpec = {
  table: '3b',
  preset: 'aim-micro',
  steps: 1,
  batch: 2,
  seed: 5,
  evalEvery: 1,
  evalImages: 2,
  // The probes train in batches of 64 (drop_last): one batch, one epoch.
  probeTrainImages: 64,
  probeTestImages: 16,
  probeEpochs: 1,
  dataset: 'procedural',
};

describe('paper mode: a shortened Table 3b grid', () => {
  it('trains, evaluates and probes every ordering, saves after each cell and resumes', async () => {
    const ctx = await testGpu();
    const dataset = makeProceduralDataset({ trainCount: 64, valCount: 16, size: 16, seed: 5 });
    const { store, saved, checkpoints } = memoryStore();

    // Interrupted after the first cell (as a reload or a killed process would leave it).
    const first = await runGrid(ctx, dataset, spec, { store, maxCells: 1 });
    expect(first.cells.map((c) => c.variant)).toEqual(['raster']);
    expect(gridComplete(first)).toBe(false);
    expect(saved).toHaveLength(1);
    expect(checkpoints.has('raster')).toBe(true);

    // Resumed from what was saved: only the three other orderings train.
    const progress: GridProgress[] = [];
    const done = await runGrid(ctx, dataset, spec, {
      store,
      resume: saved[0],
      onProgress: (p) => progress.push(p),
    });
    expect(gridComplete(done)).toBe(true);
    expect(saved).toHaveLength(4);
    const trained = new Set(progress.filter((p) => p.phase === 'training').map((p) => p.variant));
    expect([...trained].sort()).toEqual(['checkerboard', 'random', 'spiral']);
    expect(done.cells[0]).toEqual(first.cells[0]);

    const json = tableJson(done);
    expect(json).toMatchObject({ table: '3b', preset: 'aim-micro', steps: 1, complete: true });
    expect(json.cells.map((c) => c.variant)).toEqual([
      'raster',
      'spiral',
      'checkerboard',
      'random',
    ]);
    for (const c of json.cells) {
      for (const top1 of [c.linear, c.attentive, c.linearTrain, c.attentiveTrain]) {
        expect(top1).toBeGreaterThanOrEqual(0);
        expect(top1).toBeLessThanOrEqual(100);
      }
      // A pixel-regression loss after one step: positive and finite.
      expect(c.valLoss).toBeGreaterThan(0);
      expect(c.valLoss).toBeLessThan(10);
      expect(c.chunkLoss).toHaveLength(8);
      for (const x of c.chunkLoss) expect(Number.isFinite(x)).toBe(true);
    }
    // Causal pre-training, as the paper's 3b; each cell its own ordering.
    for (const [i, c] of done.cells.entries()) {
      expect(c.settings.prefix).toBe(false);
      expect(c.settings.ordering).toBe(json.cells[i].variant);
      expect(c.curve.at(-1)?.valLoss).toBe(c.valLoss);
    }
    // Different orderings are different runs: their per-chunk losses differ.
    expect(new Set(done.cells.map((c) => JSON.stringify(c.chunkLoss))).size).toBe(4);
  }, 900_000);
});
