/**
 * The baseline: @tensorflow/tfjs-backend-webgpu's matMul on the same adapter, loaded only
 * with `--tfjs`. tfjs looks for `navigator.gpu` when its module is evaluated, so the
 * packages are imported dynamically after `navigator.gpu` is set to our runtime's own
 * `GPU` object (Dawn's in Node): both request their adapter from the same object.
 *
 * Timing (no result download in any timed region):
 * - GPU time: `tf.time()`, which the WebGPU backend implements with timestamp queries
 *   around each program's compute pass; median over `reps` single matMuls.
 * - Wall-clock, batched: `reps` matMuls recorded the way tfjs normally batches them, then
 *   a flush of tfjs's pending command encoder and `queue.onSubmittedWorkDone()`, ÷ reps.
 * - Wall-clock, single: one matMul, flush, `onSubmittedWorkDone()`; median over `reps`.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { ImplResult, MatmulInputs, RunPlan } from './aim';
import { checkSamples, median, samplePositions } from './stats';

type Tf = typeof TfCore;

export interface TfjsSession {
  tf: Tf;
  backend: WebGPUBackend;
  version: string;
  timestampQuery: boolean;
  /** What tfjs's own device reports about its adapter (to confirm it is the same GPU). */
  adapter: string;
}

/** Makes `navigator.gpu` the given GPU object (Node 20 has no `navigator`; Node ≥ 21 has one without `gpu`). */
function installNavigatorGpu(gpu: GPU): void {
  const g = globalThis as unknown as { navigator?: { gpu?: GPU } };
  if (g.navigator) {
    if (g.navigator.gpu !== gpu)
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu },
      configurable: true,
      writable: true,
    });
  }
}

export async function startTfjs(gpu: GPU): Promise<TfjsSession> {
  installNavigatorGpu(gpu);
  const tf: Tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!tf.findBackendFactory('webgpu')) {
    throw new Error('tfjs-backend-webgpu did not register (navigator.gpu missing when it loaded)');
  }
  if (!(await tf.setBackend('webgpu')))
    throw new Error('tfjs could not initialise its webgpu backend');
  await tf.ready();
  // Small inputs would otherwise run on the CPU (WEBGPU_CPU_FORWARD); we time the GPU path.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const backend = tf.backend() as WebGPUBackend;
  const info = (backend.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const adapter =
    info?.description ||
    [info?.vendor, info?.architecture, info?.device].filter(Boolean).join(' · ') ||
    '';
  return {
    tf,
    backend,
    version: tf.version_core,
    timestampQuery: backend.device.features.has('timestamp-query'),
    adapter,
  };
}

/** Submits whatever tfjs has recorded but not yet submitted, and waits for the GPU. */
async function flush(backend: WebGPUBackend): Promise<void> {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await backend.queue.onSubmittedWorkDone();
}

export async function benchTfjsMatmul(
  session: TfjsSession,
  inputs: MatmulInputs,
  plan: RunPlan,
): Promise<ImplResult> {
  const { tf, backend } = session;
  const { n } = inputs;
  const a = tf.tensor2d(inputs.a, [n, n], 'float32');
  const b = tf.tensor2d(inputs.b, [n, n], 'float32');
  try {
    backend.uploadToGPU(a.dataId);
    backend.uploadToGPU(b.dataId);
    for (let i = 0; i < plan.warmup; i++) {
      tf.matMul(a, b).dispose();
      await flush(backend);
    }
    await flush(backend);

    let gpuMs: number | undefined;
    if (session.timestampQuery) {
      const kernel: number[] = [];
      for (let r = 0; r < plan.reps; r++) {
        const info = await tf.time(() => tf.matMul(a, b).dispose());
        if (typeof info.kernelMs !== 'number') throw new Error(`tf.time: ${info.kernelMs.error}`);
        kernel.push(info.kernelMs);
      }
      gpuMs = median(kernel);
      await flush(backend);
    }

    const batched: number[] = [];
    for (let t = 0; t < plan.trials; t++) {
      await flush(backend);
      const start = performance.now();
      for (let r = 0; r < plan.reps; r++) tf.matMul(a, b).dispose();
      await flush(backend);
      batched.push((performance.now() - start) / plan.reps);
    }

    const single: number[] = [];
    for (let r = 0; r < plan.reps; r++) {
      await flush(backend);
      const start = performance.now();
      const c = tf.matMul(a, b);
      await flush(backend);
      single.push(performance.now() - start);
      c.dispose();
    }

    const positions = samplePositions(n, n);
    const c = tf.matMul(a, b);
    const got: number[] = [];
    for (const [i, j] of positions) {
      const element = tf.slice(c, [i, j], [1, 1]);
      got.push((await element.data())[0]);
      element.dispose();
    }
    c.dispose();

    const wallBatchedMs = median(batched);
    return {
      ms: gpuMs ?? wallBatchedMs,
      timing: gpuMs === undefined ? 'wall-clock' : 'timestamp-query',
      gpuMs,
      wallBatchedMs,
      wallMedianMs: median(single),
      check: checkSamples(inputs.a, inputs.b, n, n, positions, got),
      extra: { tfjsVersion: session.version },
    };
  } finally {
    a.dispose();
    b.dispose();
  }
}
