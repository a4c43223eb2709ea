/**
 * The training worker's diagnostics API (test build only, see ./channel.ts): raw kernel
 * outputs for seeded inputs, so a test grades them against a float64 reference in its own
 * process, and a forced device loss to exercise recovery. It shares the worker's device.
 */
import * as Comlink from 'comlink';
import type { WorkerGpu } from '../worker/workerGpu';
import { KERNEL_CASES, kernelCase, type CaseData } from './kernelCases';
import { seededMatmul } from './matmulCheck';
import type { MatmulCheckRequest } from './selfTestShapes';

export class TrainingDiagnosticsApi {
  constructor(private readonly gpu: WorkerGpu) {}

  /** The raw product for seeded inputs, so a test can verify it independently. */
  async runSeededMatmul(req: MatmulCheckRequest): Promise<{ c: Float32Array; ms: number }> {
    return seededMatmul(await this.gpu.context(), req);
  }

  /** Names of the kernel cases this build can run (see ./kernelCases.ts). */
  kernelCaseNames(): string[] {
    return KERNEL_CASES.map((c) => c.name);
  }

  /** Runs one kernel case on the worker's device and returns its raw outputs. */
  async runKernelCase(name: string): Promise<CaseData> {
    const c = kernelCase(name);
    return c.run(await this.gpu.context(), c.inputs());
  }

  /** Destroys the worker's device, as a driver reset would (tests of the recovery path). */
  async loseDevice(): Promise<void> {
    (await this.gpu.context()).device.destroy();
  }
}

export function exposer(gpu: WorkerGpu): (port: MessagePort) => void {
  const api = new TrainingDiagnosticsApi(gpu);
  return (port) => Comlink.expose(api, port);
}
