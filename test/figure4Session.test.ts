/**
 * Probing during a run (the paper's Figure 4) in the worker's TrainingSession, on the real
 * Trainer and the real WGSL probes (Dawn, SwiftShader here): a run probed every other step
 * trains exactly as the same run unprobed, records a probe point at each probe step and the
 * last, and a run resumed from a checkpoint taken after a probe continues bit-exactly —
 * probes included. And the running loop itself, which queues each step before the last one
 * is read: predictions and a pause in the middle of it, the same steps as a serial run.
 */
import { describe, expect, it } from 'vitest';
import { makeProceduralDataset } from '../src/data/procedural';
import type { ProbePoint } from '../src/paper/figure4Points';
import { MemoryStore } from '../src/training/checkpointStore';
import { defaultsFor, type RunSettings } from '../src/training/settings';
import { Trainer, type EvalMetrics, type StepMetrics } from '../src/training/trainer';
import type { RunEvent } from '../src/worker/protocol';
import { checkpointKey, TrainingSession } from '../src/worker/trainingSession';
import { testGpu } from './gpuContext';

const dataset = makeProceduralDataset({ size: 16, trainCount: 64, valCount: 16, seed: 3 });

function settings(overrides: Partial<RunSettings> = {}): RunSettings {
  return {
    ...defaultsFor('aim-micro'),
    batch: 4,
    steps: 5,
    lr: 3e-3,
    evalEvery: 1000,
    evalImages: 8,
    checkpointEvery: 2,
    probeImages: 16,
    seed: 7,
    ...overrides,
  };
}

interface Recorded {
  metrics: StepMetrics[];
  evals: EvalMetrics[];
  probes: ProbePoint[];
  probing: string[];
  events: RunEvent[];
}

/** Keeps every checkpoint put (not the history beside it), so a run can be resumed from one taken on the way. */
class RecordingStore extends MemoryStore {
  readonly puts: Uint8Array[] = [];
  override async put(key: string, bytes: Uint8Array) {
    if (key === checkpointKey('run')) this.puts.push(bytes.slice());
    await super.put(key, bytes);
  }
}

async function runSession(
  s: RunSettings,
  opts: { resume?: Uint8Array } = {},
): Promise<Recorded & { store: RecordingStore }> {
  const ctx = await testGpu();
  const trainer = await Trainer.create(ctx, s, dataset, { checkpoint: opts.resume });
  const store = new RecordingStore();
  const out: Recorded = { metrics: [], evals: [], probes: [], probing: [], events: [] };
  const session = new TrainingSession('run', trainer, store, (e) => {
    out.events.push(e);
    if (e.type === 'metrics') out.metrics.push(e.metrics);
    if (e.type === 'eval') out.evals.push(e.metrics);
    if (e.type === 'probe') out.probes.push(e.point);
    if (e.type === 'probing') out.probing.push(e.message);
  });
  try {
    while (!trainer.done) {
      const m = await session.stepOnce();
      if (!m) throw new Error(`the session failed: ${JSON.stringify(out.events.at(-1))}`);
    }
  } finally {
    trainer.destroy();
  }
  return { ...out, store };
}

const losses = (r: Recorded) => r.metrics.map((m) => [m.step, m.trainLoss, m.gradNorm, m.lr]);
/** A probe point without its wall-clock time (the one field that may differ between runs). */
const untimed = ({ seconds: _seconds, ...rest }: ProbePoint) => rest;

describe('probing during a run (Figure 4)', { timeout: 600_000 }, () => {
  it('leaves training untouched, records a point per probe step, resumes bit-exactly', async () => {
    const probed = await runSession(settings({ probeEvery: 2 }));
    const plain = await runSession(settings({ probeEvery: 0 }));

    // Same losses, gradient norms and learning rates at every step, bit for bit.
    expect(probed.metrics).toHaveLength(5);
    expect(losses(probed)).toEqual(losses(plain));
    expect(probed.evals.at(-1)!.valLoss).toBe(plain.evals.at(-1)!.valLoss);
    expect(plain.probes).toHaveLength(0);
    expect(plain.evals.map((e) => e.step)).toEqual([5]);

    // Probes at steps 2 and 4 and at the last step (5), each beside its own evaluation.
    expect(probed.probes.map((p) => p.step)).toEqual([2, 4, 5]);
    for (const p of probed.probes) {
      expect(probed.evals.find((e) => e.step === p.step)?.valLoss).toBe(p.valLoss);
      for (const v of [p.linear, p.attentive, p.linearTrain, p.attentiveTrain]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(100);
      }
      expect(p).toMatchObject({ trainImages: 16, heldOutImages: 8, layers: 1, epochs: 5 });
    }
    expect(probed.probing.some((m) => /probe epoch 5 of 5/.test(m))).toBe(true);

    // Resume from the checkpoint of step 2 (saved after that step's probe): steps 3…5 and the
    // probes of 4 and 5 come out exactly as in the run that never stopped.
    expect(probed.store.puts).toHaveLength(3); // steps 2, 4 and 5
    const resumed = await runSession(settings({ probeEvery: 2 }), {
      resume: probed.store.puts[0],
    });
    expect(losses(resumed)).toEqual(losses(probed).slice(2));
    expect(resumed.probes.map(untimed)).toEqual(probed.probes.slice(1).map(untimed));
  });

  it('refuses, before any step, a probing run on data of one class', async () => {
    const ctx = await testGpu();
    const oneClass = { ...dataset, classes: ['only'] };
    const trainer = await Trainer.create(ctx, settings({ probeEvery: 2 }), oneClass);
    expect(() => new TrainingSession('one', trainer, new MemoryStore(), () => undefined)).toThrow(
      /at least two classes/,
    );
  });
});

describe(
  'the running loop (each step queued before the last is read)',
  { timeout: 600_000 },
  () => {
    it('reports every step once with the serial run’s bits; predictions and a pause mid-run wait for the step in flight', async () => {
      const ctx = await testGpu();
      const s = settings({ steps: 6, evalEvery: 3, checkpointEvery: 0, probeEvery: 0 });
      const serial = await runSession(s);

      const trainer = await Trainer.create(ctx, s, dataset);
      const store = new RecordingStore();
      const metrics: StepMetrics[] = [];
      let resolveFirst: () => void = () => undefined;
      const first = new Promise<void>((resolve) => (resolveFirst = resolve));
      const errors: RunEvent[] = [];
      const session = new TrainingSession('run', trainer, store, (e) => {
        if (e.type === 'metrics') {
          metrics.push(e.metrics);
          resolveFirst();
        }
        if (e.type === 'error') errors.push(e);
      });
      try {
        session.resume();
        await first;
        // Requested while the loop runs (the page asks after each evaluation): served between
        // two steps, with nothing left in flight.
        const [shown] = await session.predictions(1);
        expect(shown.predicted).toHaveLength(16 * 16 * 3);
        await session.pause();
        expect(session.status.phase).toBe('paused');
        expect(trainer.stepInFlight).toBe(false);
        // The pause's checkpoint is of the last step reported.
        expect(store.puts.length).toBeGreaterThan(0);
        const paused = await Trainer.create(ctx, s, dataset, { checkpoint: store.puts.at(-1) });
        expect(paused.step).toBe(metrics.at(-1)!.step);
        paused.destroy();
        session.resume();
        while (session.status.phase === 'running') await new Promise((r) => setTimeout(r, 50));
        expect(errors).toEqual([]);
        expect(session.status.phase).toBe('finished');
        expect(losses({ ...serial, metrics })).toEqual(losses(serial));
      } finally {
        trainer.destroy();
      }
    });
  },
);
