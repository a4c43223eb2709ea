/**
 * The `profile` suite: the training step's structure, without needing a GPU. One line per
 * preset, built from a real Trainer's own dispatch list (`Trainer.dispatches` after
 * `Trainer.loadStep()`, as the train suite times it), with every kernel choice made as on the
 * adapter named by `--as` (GpuContext `choicesAs`; `this` = the real adapter):
 *
 * - `dispatches`: each dispatch's kernel, override constants, specialisation, `workgroups`
 *   [x, y, z], FLOPs, bytes read / written (its declared cost) and modeled µs;
 * - `totals`: dispatch count, count per kernel, matmuls and how many launch fewer workgroups
 *   than the modeled GPU has compute units (132 SMs on the H100), FLOPs and bytes;
 * - `host` (MEASURED on this machine): batch assembly (`loadStep`), encoding the step,
 *   submitting it, what a step awaits, and `hostCriticalPathMs` — see `measureHost`;
 * - `modeled` (NOT measured): the roofline of bench/roofline.ts for the `--as` GPU.
 */
import { cpus } from 'node:os';
import type { GpuContext } from '../src/gpu/context';
import { recordDispatch, type PreparedDispatch } from '../src/gpu/dispatch';
import type { AdapterProfileName } from '../src/gpu/adapterProfiles';
import type { PresetName } from '../src/model/config';
import { Trainer } from '../src/training/trainer';
import { modelDispatch, ROOFLINE_ASSUMPTIONS, ROOFLINE_GPUS, type RooflineGpu } from './roofline';
import { emit, median, sig } from './stats';
import { message, type SuiteEnv } from './suite';
import { benchInputs, type TrainBenchCase } from './trainSuite';

/** `--as this`: choices as on the real adapter; else a named profile. */
export type ProfileAs = AdapterProfileName | 'this';

/** The issue's goals (BENCHMARKS.md "Step profile"). */
export const PROFILE_GOALS = {
  maxDispatches: { 'aim-tiny': 150, 'aim-small': 250 } as Partial<Record<PresetName, number>>,
  minMatmulWorkgroups: 132,
  maxHostCriticalPathMs: 5,
  maxModeledH100Ms: { 'aim-tiny': 15 } as Partial<Record<PresetName, number>>,
};

/** Host steps measured per preset (the first is a warm-up: steps 2…N are counted). */
export const DEFAULT_HOST_STEPS = 4;

export interface ParsedKernelName {
  kernel: string;
  specialize: Record<string, number>;
  constants: Record<string, number>;
}

/** Splits a kernel name `shader:entry[A=1]{B=2}` (src/gpu/kernels.ts kernelName) into its parts. */
export function parseKernelName(name: string): ParsedKernelName {
  const match = /^([^[{]+)(?:\[([^\]]*)\])?(?:\{([^}]*)\})?$/.exec(name);
  const entries = (text: string | undefined) =>
    Object.fromEntries(
      (text ? text.split(',') : []).map((kv) => {
        const [k, v] = kv.split('=');
        return [k, Number(v)];
      }),
    ) as Record<string, number>;
  if (!match) return { kernel: name, specialize: {}, constants: {} };
  return { kernel: match[1], specialize: entries(match[2]), constants: entries(match[3]) };
}

/** The base kernel of a dispatch: its shader (matmul, reduce_sum, adamw, …). */
export function kernelFamily(name: string): string {
  return parseKernelName(name).kernel.split(':')[0];
}

/**
 * A dispatch that computes a matrix product (matmul.wgsl, or a split-K partial product), not
 * the reduction or epilogue pass after one: what the "≥ 132 workgroups" goal is about.
 */
export function isMatmulProduct(family: string): boolean {
  return family.startsWith('matmul') && !/reduce|epilogue/.test(family);
}

function workgroupCount(d: PreparedDispatch): number {
  return d.workgroups[0] * d.workgroups[1] * d.workgroups[2];
}

/** Dispatch list, totals and (for a GPU in the roofline table) the modeled step. */
export function stepStructure(dispatches: readonly PreparedDispatch[], gpu?: RooflineGpu) {
  const units = gpu?.computeUnits ?? PROFILE_GOALS.minMatmulWorkgroups;
  const byKernel: Record<string, number> = {};
  const modeledByKernel: Record<string, number> = {};
  const matmulWorkgroups: number[] = [];
  let flops = 0;
  let bytesRead = 0;
  let bytesWritten = 0;
  let withoutCost = 0;
  let modeledSeconds = 0;
  const list = dispatches.map((d) => {
    const parsed = parseKernelName(d.name);
    const family = kernelFamily(d.name);
    byKernel[family] = (byKernel[family] ?? 0) + 1;
    if (isMatmulProduct(family)) matmulWorkgroups.push(workgroupCount(d));
    if (!d.cost) withoutCost++;
    flops += d.cost?.flops ?? 0;
    bytesRead += d.cost?.bytesRead ?? 0;
    bytesWritten += d.cost?.bytesWritten ?? 0;
    const modeled = gpu ? modelDispatch(gpu, d) : undefined;
    if (modeled) {
      modeledSeconds += modeled.seconds;
      modeledByKernel[family] = (modeledByKernel[family] ?? 0) + modeled.seconds * 1e3;
    }
    return {
      kernel: parsed.kernel,
      constants: parsed.constants,
      specialize: parsed.specialize,
      workgroups: [...d.workgroups],
      flops: d.cost?.flops ?? null,
      bytesRead: d.cost?.bytesRead ?? null,
      bytesWritten: d.cost?.bytesWritten ?? null,
      modeledUs: modeled ? sig(modeled.seconds * 1e6, 3) : undefined,
      bound: modeled?.bound,
    };
  });
  const totals = {
    dispatches: dispatches.length,
    byKernel,
    matmuls: matmulWorkgroups.length,
    matmulsUnderComputeUnits: matmulWorkgroups.filter((n) => n < units).length,
    computeUnits: units,
    minMatmulWorkgroups: matmulWorkgroups.length ? Math.min(...matmulWorkgroups) : null,
    flops,
    bytesRead,
    bytesWritten,
    dispatchesWithoutCost: withoutCost,
  };
  const modeled = gpu && {
    label: 'modeled',
    gpu: gpu.name,
    stepMs: sig(modeledSeconds * 1e3),
    byKernelMs: Object.fromEntries(
      Object.entries(modeledByKernel).map(([k, ms]) => [k, sig(ms, 3)]),
    ),
    figures: {
      computeUnits: gpu.computeUnits,
      vendorPeakTflops: gpu.vendorPeakFlops / 1e12,
      modeledTflops: sig(gpu.modeledFlops / 1e12, 3),
      bandwidthTBps: gpu.bandwidth / 1e12,
      dispatchOverheadUs: gpu.dispatchOverhead * 1e6,
    },
    sources: gpu.sources,
    assumptions: ROOFLINE_ASSUMPTIONS,
  };
  return { list, totals, modeled };
}

/** Median ms of encoding `dispatches` into one pass and finishing the command buffer (no submit). */
function encodeMs(ctx: GpuContext, dispatches: readonly PreparedDispatch[], reps = 3): number {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const encoder = ctx.device.createCommandEncoder({ label: 'profile encode' });
    const pass = encoder.beginComputePass();
    for (const d of dispatches) recordDispatch(pass, d);
    pass.end();
    encoder.finish();
    times.push(performance.now() - t0);
  }
  return median(times);
}

interface SubmitRecord {
  step: number;
  start: number;
  end: number;
  /** When Dawn reported all work up to this submission done (set later). */
  done?: number;
}

/**
 * Runs `steps` real `trainer.trainStep()` calls with every dispatch shrunk to one workgroup
 * (so SwiftShader runs a step in seconds; the command stream — dispatches, bind groups,
 * submissions, readbacks — is the real one) and records each `queue.submit` and when the
 * queue next drained (`onSubmittedWorkDone`). The GPU waits for the host from the moment the
 * queue drained until the next submission returns: summed over steps 2…N, ÷ (N − 1), that is
 * `hostCriticalPathMs`. Step 1 is a warm-up. The drain is seen when Dawn reports it to the JS
 * thread (onSubmittedWorkDone, or a readback's mapAsync resolving: the queue runs in order),
 * which is late if that thread is busy, so a pipelined step can read a little low.
 */
async function measureHost(ctx: GpuContext, trainer: Trainer, steps: number) {
  // Every dispatch the step may submit: the step's list holds only the head's selected row
  // bucket; the other buckets' variants (model.preparedDispatches) are swapped in per step.
  for (const d of new Set([...trainer.dispatches, ...trainer.model.preparedDispatches])) {
    if (workgroupCount(d) > 0) d.workgroups = [1, 1, 1];
  }
  const queue = ctx.device.queue;
  const originalSubmit = queue.submit.bind(queue);
  const originalCreateBuffer = ctx.device.createBuffer.bind(ctx.device);
  const originalPush = ctx.device.pushErrorScope.bind(ctx.device);
  const submits: SubmitRecord[] = [];
  const perStep = new Map<number, { mapReadBuffers: number; errorScopes: number }>();
  let current = 0;
  const count = (key: 'mapReadBuffers' | 'errorScopes') => {
    const entry = perStep.get(current) ?? { mapReadBuffers: 0, errorScopes: 0 };
    entry[key]++;
    perStep.set(current, entry);
  };
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    const record: SubmitRecord = { step: current, start: performance.now(), end: 0 };
    originalSubmit(buffers);
    record.end = performance.now();
    const submitted = submits.push(record);
    for (const b of copiedSinceSubmit) lastWrite.set(b, submitted);
    copiedSinceSubmit = [];
    void queue.onSubmittedWorkDone().then(() => doneBy(performance.now(), submitted));
  };
  // Marks the first `submitted` submissions done by `time` (the earliest evidence wins).
  const doneBy = (time: number, submitted: number) => {
    for (const s of submits.slice(0, submitted)) s.done = Math.min(s.done ?? Infinity, time);
  };
  ctx.device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    if (descriptor.usage & GPUBufferUsage.MAP_READ) count('mapReadBuffers');
    return originalCreateBuffer(descriptor);
  };
  // A readback's mapAsync resolving proves done the submission that last wrote that buffer
  // (copyBufferToBuffer into it) and, the queue running in order, every one before it. Patched
  // on the prototypes: the Trainer's readback buffers may predate this measurement.
  const lastWrite = new WeakMap<GPUBuffer, number>();
  let copiedSinceSubmit: GPUBuffer[] = [];
  const probe = originalCreateBuffer({
    size: 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const bufferPrototype = Object.getPrototypeOf(probe) as GPUBuffer;
  probe.destroy();
  const encoderPrototype = Object.getPrototypeOf(
    ctx.device.createCommandEncoder(),
  ) as GPUCommandEncoder;
  const originalMap = Object.getOwnPropertyDescriptor(bufferPrototype, 'mapAsync')!;
  const originalCopy = Object.getOwnPropertyDescriptor(encoderPrototype, 'copyBufferToBuffer')!;
  const mapAsync = originalMap.value as GPUBuffer['mapAsync'];
  const copy = originalCopy.value as (this: GPUCommandEncoder, ...args: unknown[]) => void;
  Object.defineProperty(bufferPrototype, 'mapAsync', {
    ...originalMap,
    value: function (this: GPUBuffer, ...mapArgs: Parameters<GPUBuffer['mapAsync']>) {
      const written = lastWrite.get(this);
      const mapped = mapAsync.apply(this, mapArgs);
      if (written !== undefined) void mapped.then(() => doneBy(performance.now(), written));
      return mapped;
    },
  });
  Object.defineProperty(encoderPrototype, 'copyBufferToBuffer', {
    ...originalCopy,
    value: function (this: GPUCommandEncoder, ...args: unknown[]) {
      // (source, destination, size) or (source, sourceOffset, destination, …)
      const destination = (typeof args[1] === 'number' ? args[2] : args[1]) as GPUBuffer;
      copiedSinceSubmit.push(destination);
      return copy.apply(this, args);
    },
  });
  ctx.device.pushErrorScope = (filter: GPUErrorFilter) => {
    count('errorScopes');
    originalPush(filter);
  };
  const stepWall: number[] = [];
  const awaitedOwnWork: boolean[] = [];
  let nonFinite = 0;
  try {
    for (let step = 1; step <= steps; step++) {
      current = step;
      const t0 = performance.now();
      try {
        // As the worker's loop runs between evaluations: the next step queued before this
        // one's results are read.
        await trainer.trainStep({ submitNext: step < steps });
      } catch (error) {
        if ((error as Error).name !== 'NonFiniteError') throw error;
        nonFinite++;
      }
      stepWall.push(performance.now() - t0);
      awaitedOwnWork.push(
        submits.filter((s) => s.step === step).every((s) => s.done !== undefined),
      );
    }
    await queue.onSubmittedWorkDone();
  } finally {
    delete (queue as { submit?: unknown }).submit;
    delete (ctx.device as { createBuffer?: unknown }).createBuffer;
    delete (ctx.device as { pushErrorScope?: unknown }).pushErrorScope;
    Object.defineProperty(bufferPrototype, 'mapAsync', originalMap);
    Object.defineProperty(encoderPrototype, 'copyBufferToBuffer', originalCopy);
  }
  // Idle gaps: a submission found the queue drained (every earlier one done) before it began.
  const gapsByStep = new Map<number, number>();
  for (let i = 1; i < submits.length; i++) {
    const drained = Math.max(...submits.slice(0, i).map((s) => s.done ?? Infinity));
    if (drained < submits[i].start) {
      const gap = submits[i].end - drained;
      gapsByStep.set(submits[i].step, (gapsByStep.get(submits[i].step) ?? 0) + gap);
    }
  }
  const counted = Array.from({ length: steps - 1 }, (_, i) => i + 2);
  const critical = counted.map((s) => gapsByStep.get(s) ?? 0);
  const submitMs = counted.map((s) =>
    submits.filter((r) => r.step === s).reduce((a, r) => a + (r.end - r.start), 0),
  );
  const steady = counted.map((s) => perStep.get(s) ?? { mapReadBuffers: 0, errorScopes: 0 });
  return {
    hostCriticalPathMs: sig(median(critical), 3),
    hostCriticalPathPerStepMs: critical.map((ms) => sig(ms, 3)),
    submitMs: sig(median(submitMs), 3),
    submissionsPerStep: median(counted.map((s) => submits.filter((r) => r.step === s).length)),
    mapReadBuffersCreatedPerStep: median(steady.map((c) => c.mapReadBuffers)),
    errorScopesPerStep: median(steady.map((c) => c.errorScopes)),
    stepAwaitsItsOwnGpuWork: awaitedOwnWork.slice(1).every(Boolean),
    trainStepWallMs: stepWall.map((ms) => sig(ms, 3)),
    nonFiniteSteps: nonFinite,
  };
}

async function profileCase(
  env: SuiteEnv,
  c: TrainBenchCase,
  as: ProfileAs,
  hostSteps: number,
): Promise<Record<string, unknown>> {
  const { ctx } = env;
  const { s, dataset } = benchInputs(c);
  const gpu = as === 'this' ? undefined : ROOFLINE_GPUS[as];
  const started = performance.now();
  const note = (what: string) =>
    console.error(
      `bench profile ${c.preset} B=${c.batch} as ${as}: ${what} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  const trainer = await Trainer.create(ctx, s, dataset);
  note('Trainer ready');
  try {
    const assembly: number[] = [];
    for (let r = 0; r < 2; r++) {
      const t0 = performance.now();
      trainer.loadStep();
      assembly.push(performance.now() - t0);
    }
    const structure = stepStructure(trainer.dispatches, gpu);
    const encode = encodeMs(ctx, trainer.dispatches);
    note(`structure done; ${hostSteps >= 2 ? `${hostSteps} host steps next` : 'no host steps'}`);
    const host = hostSteps >= 2 ? await measureHost(ctx, trainer, hostSteps) : undefined;
    const { totals } = structure;
    const maxDispatches = PROFILE_GOALS.maxDispatches[c.preset];
    const maxModeled = PROFILE_GOALS.maxModeledH100Ms[c.preset];
    return {
      name: 'step-profile',
      preset: c.preset,
      batch: c.batch,
      as,
      choicesAs: ctx.choices.adapter.description || env.adapter,
      device: env.adapter,
      dispatches: structure.list,
      totals,
      host: {
        label: 'measured on this machine',
        cpu: cpus()[0]?.model,
        batchAssemblyMs: sig(median(assembly), 3),
        encodeMs: sig(encode, 3),
        ...(host ?? { note: `host steps not run (--host-steps ${hostSteps})` }),
      },
      modeled: structure.modeled ?? {
        label: 'modeled',
        note: `no roofline entry for ${as} (bench/roofline.ts has ${Object.keys(ROOFLINE_GPUS).join(', ')})`,
      },
      goals: {
        dispatches: maxDispatches && {
          max: maxDispatches,
          met: totals.dispatches <= maxDispatches,
        },
        matmulWorkgroups:
          as === 'h100'
            ? {
                min: PROFILE_GOALS.minMatmulWorkgroups,
                met: totals.matmulsUnderComputeUnits === 0,
              }
            : undefined,
        hostCriticalPathMs: host && {
          max: PROFILE_GOALS.maxHostCriticalPathMs,
          met: host.hostCriticalPathMs <= PROFILE_GOALS.maxHostCriticalPathMs,
        },
        modeledH100Ms:
          as === 'h100' && maxModeled && structure.modeled
            ? { max: maxModeled, met: structure.modeled.stepMs <= maxModeled }
            : undefined,
      },
    };
  } finally {
    trainer.destroy();
  }
}

/** One line per case; returns the failure count. */
export async function runProfileSuite(
  env: SuiteEnv,
  cases: readonly TrainBenchCase[],
  as: ProfileAs,
  hostSteps = DEFAULT_HOST_STEPS,
): Promise<number> {
  let failures = 0;
  for (const c of cases) {
    try {
      emit(await profileCase(env, c, as, hostSteps));
    } catch (error) {
      failures++;
      emit({ name: 'step-profile', preset: c.preset, batch: c.batch, as, error: message(error) });
    }
  }
  return failures;
}
