/**
 * onnxruntime-web for the Inference page: one session at a time, on the WebGPU execution
 * provider when the browser has it, otherwise on wasm — and the page is told which and why,
 * never silently.
 *
 * The JSPI build (`onnxruntime-web/jspi`) is used because it mounts external data as Blobs
 * and reads each initializer's byte range only when that tensor is created, copying it
 * straight to its GPU buffer: the model's shards never sit whole in the JS heap or the 4 GB
 * wasm32 heap (onnxruntime issues 29455, PR 21634). Our shards are OPFS Files or the user's
 * own Files, so loading costs one tensor of JS memory at a time.
 *
 * On WebGPU, CPU fallback for individual nodes is disabled (`session.disable_cpu_ep_fallback`):
 * if some node could only run on the CPU the session fails and we retry the whole model on
 * wasm, stating the reason, instead of silently running half of it on the CPU. The buffer
 * cache mode is `simple`, not `bucket`, so GPU memory stays near what the model needs
 * (onnxruntime issue 29016).
 */
import * as ort from 'onnxruntime-web/jspi';

export type Backend = 'webgpu' | 'wasm';

export interface SessionInfo {
  backend: Backend;
  /** Why the model runs on wasm, when it does. */
  fallbackReason?: string;
  createMs: number;
  inputNames: readonly string[];
  outputNames: readonly string[];
}

export interface RunOutput {
  outputs: Record<string, { dims: readonly number[]; data: Float32Array }>;
  latencyMs: number;
}

export class OnnxSessionError extends Error {
  override readonly name = 'OnnxSessionError';
}

/** Why WebGPU cannot be used here, or undefined when it can. */
export async function webgpuUnavailableReason(): Promise<string | undefined> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return 'this browser does not expose WebGPU (navigator.gpu is missing)';
  try {
    const adapter = await gpu.requestAdapter();
    return adapter ? undefined : 'the browser offers no WebGPU adapter';
  } catch (error) {
    return `requesting a WebGPU adapter failed: ${String(error)}`;
  }
}

export function jspiAvailable(): boolean {
  return typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function';
}

let configured = false;
function configure() {
  if (configured) return;
  configured = true;
  ort.env.logLevel = 'error';
  // Threads help only the wasm fallback; they need cross-origin isolation, which the app has.
  ort.env.wasm.numThreads = globalThis.crossOriginIsolated
    ? Math.min(4, navigator.hardwareConcurrency || 1)
    : 1;
}

export class OnnxModelSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly info: SessionInfo,
  ) {}

  /**
   * `model`: the .onnx bytes (small: weights are external); `externalData`: every shard as a
   * Blob by the name the model refers to it. `prefer` forces wasm (the user's choice).
   */
  static async create(
    model: Uint8Array,
    externalData: ReadonlyMap<string, Blob>,
    prefer: Backend = 'webgpu',
  ): Promise<OnnxModelSession> {
    if (!jspiAvailable()) {
      throw new OnnxSessionError(
        'this browser lacks WebAssembly JSPI, which loading large models needs ' +
          '(Chrome/Edge 137 or later)',
      );
    }
    configure();
    const files = [...externalData].map(([path, data]) => ({ path, data }));
    let fallbackReason: string | undefined;
    if (prefer === 'webgpu') {
      fallbackReason = await webgpuUnavailableReason();
      if (!fallbackReason) {
        const started = performance.now();
        try {
          const session = await ort.InferenceSession.create(model, {
            executionProviders: [{ name: 'webgpu', storageBufferCacheMode: 'simple' }],
            externalData: files,
            graphOptimizationLevel: 'all',
            extra: { session: { disable_cpu_ep_fallback: '1' } },
          });
          return new OnnxModelSession(session, {
            backend: 'webgpu',
            createMs: performance.now() - started,
            inputNames: session.inputNames,
            outputNames: session.outputNames,
          });
        } catch (error) {
          fallbackReason = `onnxruntime's WebGPU provider could not load this model: ${messageOf(error)}`;
        }
      }
    } else {
      fallbackReason = 'wasm was chosen';
    }
    const started = performance.now();
    try {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: ['wasm'],
        externalData: files,
        graphOptimizationLevel: 'all',
      });
      return new OnnxModelSession(session, {
        backend: 'wasm',
        fallbackReason,
        createMs: performance.now() - started,
        inputNames: session.inputNames,
        outputNames: session.outputNames,
      });
    } catch (error) {
      throw new OnnxSessionError(
        `onnxruntime could not load the model: ${messageOf(error)}` +
          (fallbackReason && prefer === 'webgpu' ? ` (WebGPU: ${fallbackReason})` : ''),
      );
    }
  }

  /** One forward pass on a preprocessed NCHW float32 batch; outputs copied to the CPU. */
  async run(images: Float32Array, dims: readonly number[]): Promise<RunOutput> {
    const input = new ort.Tensor('float32', images, dims);
    const started = performance.now();
    const result = await this.session.run({ [this.info.inputNames[0]]: input });
    const latencyMs = performance.now() - started;
    const outputs: RunOutput['outputs'] = {};
    for (const [name, tensor] of Object.entries(result)) {
      if (tensor.type !== 'float32') continue;
      outputs[name] = { dims: tensor.dims, data: tensor.data as Float32Array };
      tensor.dispose();
    }
    return { outputs, latencyMs };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
