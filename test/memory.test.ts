/**
 * src/model/memory.ts against what really gets allocated: every `device.createBuffer` call
 * made while a Trainer (or a bare AimGpuModel) is built is recorded, and the estimate —
 * computed without allocating — must match it exactly: the model's bytes, the optimizer
 * state, the kernels' own scratch, the number of buffers and the largest one.
 *
 * Exact equality is the right tolerance: sizes are integers; an estimate that missed one
 * [B, K] tensor or one partial-sum buffer of a LayerNorm backward would be off by at least
 * 4 bytes. The last check of each case shows that the comparison can fail: the estimate for
 * one more image, or with the other head variant, differs from the measured allocation.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeProceduralDataset } from '../src/data/procedural';
import type { GpuContext } from '../src/gpu/context';
import { PRESETS, type AimConfig } from '../src/model/config';
import { AimGpuModel } from '../src/model/gpuModel';
import { paramSize, paramSpecs } from '../src/model/params';
import {
  estimateTrainingMemory,
  memoryLimitProblems,
  trainingBuffers,
  type TrainingMemory,
} from '../src/model/memory';
import { defaultsFor, modelConfigFor, type RunSettings } from '../src/training/settings';
import { gpuBatchBuffers, planGpuBatches } from '../src/training/gpuBatches';
import { Trainer } from '../src/training/trainer';
import { testGpu } from './gpuContext';

interface Created {
  label: string;
  size: number;
  storage: boolean;
}

/** Records every buffer created on `ctx.device` until the returned function is called. */
function recordBuffers(ctx: GpuContext): { created: Created[]; stop: () => void } {
  const device = ctx.device;
  const original = device.createBuffer;
  const created: Created[] = [];
  device.createBuffer = function (descriptor: GPUBufferDescriptor): GPUBuffer {
    created.push({
      label: descriptor.label ?? '',
      size: descriptor.size,
      storage: (descriptor.usage & GPUBufferUsage.STORAGE) !== 0,
    });
    return original.call(device, descriptor);
  };
  return { created, stop: () => void (device.createBuffer = original) };
}

let stopRecording: (() => void) | undefined;
afterEach(() => stopRecording?.());

/** Storage buffers of a training run: everything but uniforms and the context's shared placeholders. */
function storageBuffers(created: readonly Created[]): Created[] {
  return created.filter((b) => b.storage && !b.label.startsWith('placeholder'));
}

const sum = (list: readonly { size: number }[]) => list.reduce((n, b) => n + b.size, 0);

function largest(list: readonly Created[]): number {
  return Math.max(...list.map((b) => b.size));
}

const dataset = makeProceduralDataset({ size: 16, trainCount: 16, valCount: 4, seed: 3 });

function settings(overrides: Partial<RunSettings>): RunSettings {
  return {
    ...defaultsFor('aim-micro'),
    steps: 2,
    evalEvery: 1000,
    evalImages: 4,
    checkpointEvery: 0,
    ...overrides,
  };
}

function expectMatches(est: TrainingMemory, modelBytes: number, buffers: readonly Created[]) {
  const optimizer = buffers.filter((b) =>
    /exp_avg|^gradient norm|^clip scale|^non-finite steps/.test(b.label),
  );
  expect(modelBytes).toBe(est.modelBytes);
  expect(sum(optimizer)).toBe(est.bytes.optimizer);
  expect(sum(buffers) - modelBytes - sum(optimizer)).toBe(
    est.bytes.kernelScratch + est.bytes.dataset,
  );
  expect(sum(buffers)).toBe(est.totalBytes);
  expect(buffers.length).toBe(est.buffers);
  expect(largest(buffers)).toBe(est.largestBuffer.bytes);
}

describe('estimateTrainingMemory equals what a Trainer allocates', () => {
  const cases: { name: string; overrides: Partial<RunSettings> }[] = [
    { name: 'aim-micro, batch 8', overrides: { batch: 8 } },
    // Odd batch, two head blocks with ml-l3m's extra LayerNorm term (extra buffers per block).
    {
      name: 'aim-micro, batch 3, head depth 2 with extraNormTerm',
      overrides: { batch: 3, headDepth: 2, headExtraNormTerm: true },
    },
  ];
  for (const { name, overrides } of cases) {
    it(
      name,
      async () => {
        const ctx = await testGpu();
        const s = settings(overrides);
        const rec = recordBuffers(ctx);
        stopRecording = rec.stop;
        const trainer = await Trainer.create(ctx, s, dataset);
        rec.stop();
        try {
          const config = modelConfigFor(s);
          // The dataset goes on the GPU (no colour jitter): its images, tables and rows count.
          const plan = planGpuBatches(ctx.capabilities, dataset, config.imageSize)!;
          const dataBuffers = gpuBatchBuffers(plan, config.imageSize, s.batch);
          const est = estimateTrainingMemory(config, s.batch, { dataBuffers });
          expect(est.bytes.dataset).toBeGreaterThan(dataset.train.pixels.length);
          const buffers = storageBuffers(rec.created);
          const uniforms = rec.created.filter((b) => !b.storage);
          console.log(
            `${name}: ${buffers.length} storage buffers, ${sum(buffers)} bytes (estimate ` +
              `${est.totalBytes}); ${uniforms.length} uniform buffers, ${sum(uniforms)} bytes (not estimated)`,
          );
          expectMatches(est, trainer.model.bytes, buffers);
          // One training step allocates nothing: its loss and norm go through a readback
          // ring the Trainer made once.
          const step = recordBuffers(ctx);
          stopRecording = step.stop;
          await trainer.trainStep();
          step.stop();
          expect(storageBuffers(step.created)).toEqual([]);
          expect(step.created).toEqual([]);
          // The comparison can fail: one more image, or the other head variant, differs.
          const oneMore = gpuBatchBuffers(plan, config.imageSize, s.batch + 1);
          expect(
            estimateTrainingMemory(config, s.batch + 1, { dataBuffers: oneMore }).totalBytes,
          ).not.toBe(sum(buffers));
          const flipped = {
            ...config,
            head: { ...config.head, extraNormTerm: !config.head.extraNormTerm },
          };
          expect(estimateTrainingMemory(flipped, s.batch).totalBytes).not.toBe(sum(buffers));
        } finally {
          trainer.destroy();
        }
        // The first case compiles every kernel of a training step on SwiftShader: over a minute
        // when other work shares the two CPU cores, so more than the default 120 s of headroom.
      },
      300_000,
    );
  }
});

/** 12×12 images, patch 4 → K = 9; width 12 in 3 heads; one block; no head blocks. */
const AWKWARD: AimConfig = {
  name: 'awkward-test',
  imageSize: 12,
  patchSize: 4,
  channels: 3,
  width: 12,
  depth: 1,
  heads: 3,
  mlpRatio: 4,
  head: { width: 8, depth: 0, extraNormTerm: false },
  trunkNormEps: 1e-6,
  headNormEps: 1e-5,
  inferenceOnly: false,
};

describe('estimateTrainingMemory equals what AimGpuModel allocates', () => {
  it('an awkward config (K = 9, 3 heads, no head blocks), batch 5, model only', async () => {
    const ctx = await testGpu();
    const rec = recordBuffers(ctx);
    stopRecording = rec.stop;
    const model = await AimGpuModel.create(ctx, AWKWARD, 5);
    rec.stop();
    try {
      // Without a Trainer there is no optimizer state, no gradient-norm or AdamW scratch.
      const expected = trainingBuffers(AWKWARD, 5).filter(
        (b) => b.category !== 'optimizer' && !/^gradNorm|^reduceSum|^adamw/.test(b.label),
      );
      const buffers = storageBuffers(rec.created);
      expect(model.bytes).toBe(estimateTrainingMemory(AWKWARD, 5).modelBytes);
      expect(sum(buffers)).toBe(expected.reduce((n, b) => n + b.bytes, 0));
      expect(buffers.length).toBe(expected.length);
      expect(sum(buffers)).not.toBe(
        trainingBuffers(AWKWARD, 4)
          .filter((b) => b.category !== 'optimizer' && !/^gradNorm|^reduceSum|^adamw/.test(b.label))
          .reduce((n, b) => n + b.bytes, 0),
      );
    } finally {
      model.destroy();
    }
  });

  it('trunkOnly: parameters, inputs and trunk activations only', async () => {
    const ctx = await testGpu();
    const rec = recordBuffers(ctx);
    stopRecording = rec.stop;
    const model = await AimGpuModel.create(ctx, PRESETS['aim-micro'], 3, { trunkOnly: true });
    rec.stop();
    try {
      const est = estimateTrainingMemory(PRESETS['aim-micro'], 3, { trunkOnly: true });
      const buffers = storageBuffers(rec.created);
      expect(est.bytes.gradients + est.bytes.optimizer + est.bytes.kernelScratch).toBe(0);
      expect(model.bytes).toBe(est.modelBytes);
      expect(sum(buffers)).toBe(est.totalBytes);
      expect(buffers.length).toBe(est.buffers);
    } finally {
      model.destroy();
    }
  });
});

describe('estimates at the benchmark sizes (computed, nothing allocated)', () => {
  it('aim-tiny and aim-small at batch 256', () => {
    const tiny = estimateTrainingMemory(PRESETS['aim-tiny'], 256);
    const small = estimateTrainingMemory(PRESETS['aim-small'], 256);
    for (const m of [tiny, small]) console.log(JSON.stringify(m));
    // 4.83 M and 34.2 M parameters: 4 bytes each for the values, the gradients, and twice for
    // AdamW — each tensor's slot of its arena padded to a multiple of 256 bytes.
    const padded = (c: AimConfig) =>
      paramSpecs(c).reduce((n, s) => n + Math.ceil((4 * paramSize(s)) / 256) * 256, 0);
    expect(paramSpecs(PRESETS['aim-tiny']).reduce((n, s) => n + paramSize(s), 0)).toBe(4_830_448);
    expect(tiny.bytes.parameters).toBe(padded(PRESETS['aim-tiny']));
    // The padding is less than 256 bytes per tensor.
    const tinyTensors = paramSpecs(PRESETS['aim-tiny']).length;
    expect(tiny.bytes.parameters - 4 * 4_830_448).toBeLessThan(256 * tinyTensors);
    expect(tiny.bytes.gradients).toBe(tiny.bytes.parameters);
    // + the gradient norm, the clip scale (f32) and the non-finite step counter (u32).
    expect(small.bytes.optimizer).toBe(2 * small.bytes.parameters + 12);
    // aim-small's 137 MB of parameters do not fit one 128 MiB binding: its arenas are split.
    expect(
      trainingBuffers(PRESETS['aim-small'], 256).filter((b) => /^parameters arena/.test(b.label))
        .length,
    ).toBe(3);
    // The largest buffer of aim-small: the head's fc1 output [256·64, 4·512] f32 = 128 MiB,
    // exactly WebGPU's default maxStorageBufferBindingSize — so it still fits a default device.
    expect(small.largestBuffer).toEqual({
      label: 'head block 0 fc1 pre-activation',
      bytes: 256 * 64 * 2048 * 4,
    });
    const defaults = { maxStorageBufferBindingSize: 134217728, maxBufferSize: 268435456 };
    expect(memoryLimitProblems(small, defaults)).toEqual([]);
    expect(
      memoryLimitProblems(estimateTrainingMemory(PRESETS['aim-small'], 257), defaults),
    ).toEqual([expect.stringContaining('maxStorageBufferBindingSize')]);
  });
});
