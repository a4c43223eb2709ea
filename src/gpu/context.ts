/**
 * `GpuContext`: one GPU device plus what every kernel needs from it — the capabilities
 * record, the kernel registry, checked submission (error scopes named after the work that
 * ran) and device-loss reporting. Created the same way in a page, a Web Worker and Node.
 */
import {
  describeCapabilities,
  requiredLimitsFor,
  WANTED_FEATURES,
  type GpuCapabilities,
  type RaisedLimit,
} from './capabilities';
import { GpuDeviceLostError, GpuKernelError, WebGpuUnavailableError } from './errors';
import { getGpu } from './gpu';
import { KernelRegistry, type ShaderSource } from './kernels';

export interface GpuContextOptions {
  /** Where kernel sources come from: Vite's bundled `?raw` strings or the file system. */
  shaderSource: ShaderSource;
  /** Called once if the device is lost (not called for our own `destroy()`). */
  onDeviceLost?: (error: GpuDeviceLostError) => void;
  /** Called for errors no error scope caught (should not happen; reported, never swallowed). */
  onUncapturedError?: (error: GpuKernelError) => void;
  powerPreference?: GPUPowerPreference;
  /** Leave out features even if present (tests use this to exercise fallback paths). */
  disableFeatures?: readonly string[];
  /**
   * Make every kernel choice (tiles, splits, variants, grid folding) as on this adapter
   * (src/gpu/adapterProfiles.ts) while compiling and running on the real device: the step
   * profile's `--as h100`. Validation (buffer sizes, grid limits) stays the real device's,
   * and a chosen variant this device cannot run is refused (`requireForChoice`).
   */
  choicesAs?: GpuCapabilities;
}

/** What a kernel choice may need beyond WebGPU's defaults (see GpuContext.requireForChoice). */
export interface ChoiceNeeds {
  features?: readonly ('subgroups' | 'shaderF16' | 'subgroupMatrix')[];
  limits?: Partial<Record<RaisedLimit, number>>;
}

/** What `needs` asks of `device` that it lacks ([] when it can run such a kernel). */
export function unmetChoiceNeeds(needs: ChoiceNeeds, device: GpuCapabilities): string[] {
  const unmet: string[] = [];
  for (const flag of needs.features ?? []) if (!device[flag]) unmet.push(`feature ${flag}`);
  for (const [name, value] of Object.entries(needs.limits ?? {}) as [RaisedLimit, number][]) {
    if (value > device.limits[name])
      unmet.push(`${name} ≥ ${value} (it offers ${device.limits[name]})`);
  }
  return unmet;
}

export class GpuContext {
  readonly kernels: KernelRegistry;
  /**
   * What kernel choices read: the real device's capabilities, or the profile given as
   * `choicesAs`. Validation reads `capabilities`, which is always the real device's.
   */
  readonly choices: GpuCapabilities;
  /** Resolves when the device is lost for any reason other than our own destroy(). */
  readonly lost: Promise<GpuDeviceLostError>;
  private destroyed = false;
  private readonly placeholders = new Map<string, GPUBuffer>();

  private constructor(
    readonly device: GPUDevice,
    readonly capabilities: GpuCapabilities,
    options: GpuContextOptions,
  ) {
    this.kernels = new KernelRegistry(device, options.shaderSource);
    this.choices = options.choicesAs ?? capabilities;
    this.lost = device.lost.then((info) => {
      const error = new GpuDeviceLostError(info.reason ?? 'unknown', info.message);
      if (!this.destroyed) options.onDeviceLost?.(error);
      return error;
    });
    device.addEventListener('uncapturederror', (event) => {
      const gpuError = (event as GPUUncapturedErrorEvent).error;
      const error = new GpuKernelError('uncaptured', classify(gpuError), gpuError.message);
      if (options.onUncapturedError) options.onUncapturedError(error);
      else console.error(error);
    });
  }

  static async create(options: GpuContextOptions): Promise<GpuContext> {
    const { gpu, host } = await getGpu();
    const adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference ?? 'high-performance',
    });
    if (!adapter) {
      throw new WebGpuUnavailableError(
        'WebGPU is present but no GPU adapter is available (blocklisted GPU, disabled hardware acceleration, or no driver).',
        host === 'node'
          ? 'Install a Vulkan driver, or point VK_ICD_FILENAMES at a Vulkan ICD such as /usr/lib/chromium/vk_swiftshader_icd.json.'
          : 'Enable hardware acceleration in the browser settings, update the GPU driver, or try another browser (chrome://gpu shows why WebGPU is off).',
      );
    }
    const disabled = new Set(options.disableFeatures ?? []);
    const requiredFeatures = WANTED_FEATURES.filter(
      (f) => adapter.features.has(f) && !disabled.has(f),
    ) as GPUFeatureName[];
    const device = await adapter.requestDevice({
      label: 'aim-playground',
      requiredFeatures,
      requiredLimits: requiredLimitsFor(adapter),
    });
    return new GpuContext(device, describeCapabilities(adapter, device, host), options);
  }

  /**
   * Encodes work with `encode`, submits it, and rejects with a `GpuKernelError` naming
   * `label` if the device reported a validation or out-of-memory error for it.
   */
  async submit(label: string, encode: (encoder: GPUCommandEncoder) => void): Promise<void> {
    const { device } = this;
    device.pushErrorScope('internal');
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder({ label });
    try {
      encode(encoder);
      device.queue.submit([encoder.finish()]);
    } finally {
      const [validation, oom, internal] = await Promise.all([
        device.popErrorScope(),
        device.popErrorScope(),
        device.popErrorScope(),
      ]);
      const first = validation ?? oom ?? internal;
      // Throwing in finally replaces an exception from encode(); the GPU's message is the more precise one.
      // eslint-disable-next-line no-unsafe-finally
      if (first) throw new GpuKernelError(label, classify(first), first.message);
    }
  }

  /**
   * A wrapper calls this when the variant it chose (from `choices`) needs a feature or a limit
   * beyond WebGPU's defaults: with `choicesAs` a profile may choose what this device cannot
   * compile or launch, and that is refused here with both named rather than left to the driver.
   */
  requireForChoice(kernel: string, needs: ChoiceNeeds): void {
    const unmet = unmetChoiceNeeds(needs, this.capabilities);
    if (unmet.length === 0) return;
    const as =
      this.choices === this.capabilities ? 'this device' : this.choices.adapter.description;
    throw new RangeError(
      `${kernel}: the variant chosen as on ${as} needs ${unmet.join(', ')}, which this device ` +
        `(${this.capabilities.adapter.description || 'its adapter'}) lacks; choose as on a profile it can run`,
    );
  }

  /** Resolves when all submitted work has finished on the GPU. */
  async finish(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
  }

  /**
   * A small storage buffer to bind where a kernel variant ignores a binding (auto layouts
   * keep every binding the WGSL mentions). Distinct names give distinct buffers, because a
   * buffer may not be bound both writable and read-only in one dispatch.
   */
  placeholder(name: 'read' | 'write'): GPUBuffer {
    let buffer = this.placeholders.get(name);
    if (!buffer) {
      buffer = this.device.createBuffer({
        label: `placeholder (${name})`,
        size: 16,
        usage: GPUBufferUsage.STORAGE,
      });
      this.placeholders.set(name, buffer);
    }
    return buffer;
  }

  destroy(): void {
    this.destroyed = true;
    this.device.destroy();
  }
}

function classify(error: GPUError): GpuKernelError['kind'] {
  // By class name as well as instanceof: Dawn for Node's classes are not browser globals.
  const name = error.constructor?.name ?? '';
  if (
    name === 'GPUValidationError' ||
    (typeof GPUValidationError !== 'undefined' && error instanceof GPUValidationError)
  )
    return 'validation';
  if (
    name === 'GPUOutOfMemoryError' ||
    (typeof GPUOutOfMemoryError !== 'undefined' && error instanceof GPUOutOfMemoryError)
  )
    return 'out-of-memory';
  return 'internal';
}
