/**
 * The kernel registry: loads WGSL from `shaders/<name>.wgsl` through a `ShaderSource`,
 * compiles each module once (compilation errors raised with the file's name), and caches
 * one compute pipeline per (shader, entry point, override constants).
 */
import { GpuKernelError } from './errors';

/** Returns the WGSL text of `shaders/<name>.wgsl`. */
export type ShaderSource = (name: string) => string | Promise<string>;

export interface KernelKey {
  /** File name in `shaders/` without `.wgsl`. */
  shader: string;
  entryPoint?: string;
  /** WGSL `override` constants (tile sizes and the like). */
  constants?: Record<string, number>;
}

/** A compiled kernel: its pipeline and the name used in labels and error messages. */
export interface Kernel {
  name: string;
  pipeline: GPUComputePipeline;
}

export class KernelRegistry {
  private readonly modules = new Map<string, Promise<GPUShaderModule>>();
  private readonly pipelines = new Map<string, Promise<Kernel>>();

  constructor(
    private readonly device: GPUDevice,
    private readonly source: ShaderSource,
  ) {}

  /** The compiled kernel for `key`, compiled on first use and cached afterwards. */
  get(key: KernelKey): Promise<Kernel> {
    const name = kernelName(key);
    let kernel = this.pipelines.get(name);
    if (!kernel) {
      kernel = this.compile(key, name);
      this.pipelines.set(name, kernel);
      // A failed compile is not cached: the next call reports the error again.
      kernel.catch(() => this.pipelines.delete(name));
    }
    return kernel;
  }

  /** How many distinct pipelines have been built (for tests of the cache). */
  get pipelineCount(): number {
    return this.pipelines.size;
  }

  private module(shader: string): Promise<GPUShaderModule> {
    let module = this.modules.get(shader);
    if (!module) {
      module = this.compileModule(shader);
      this.modules.set(shader, module);
      module.catch(() => this.modules.delete(shader));
    }
    return module;
  }

  private async compileModule(shader: string): Promise<GPUShaderModule> {
    const code = await resolveIncludes(shader, this.source);
    // The scope catches the invalid-module validation error so it is reported here, once,
    // with the file name, instead of also reaching the device's uncapturederror handler.
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: `${shader}.wgsl`, code });
    const [info, scopeError] = await Promise.all([
      module.getCompilationInfo(),
      this.device.popErrorScope(),
    ]);
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0 || scopeError) {
      const text =
        errors.map((m) => `${shader}.wgsl:${m.lineNum}:${m.linePos} ${m.message}`).join('\n') ||
        `${shader}.wgsl: ${scopeError?.message}`;
      throw new GpuKernelError(shader, 'compilation', text);
    }
    return module;
  }

  private async compile(key: KernelKey, name: string): Promise<Kernel> {
    const module = await this.module(key.shader);
    try {
      const pipeline = await this.device.createComputePipelineAsync({
        label: name,
        layout: 'auto',
        compute: { module, entryPoint: key.entryPoint ?? 'main', constants: key.constants },
      });
      return { name, pipeline };
    } catch (error) {
      throw new GpuKernelError(
        name,
        'validation',
        error instanceof Error ? error.message : String(error),
      );
    }
  }
}

/** `shader:entry{constants}` — the label that appears in GPU error messages and timings. */
export function kernelName(key: KernelKey): string {
  const entry = key.entryPoint && key.entryPoint !== 'main' ? `:${key.entryPoint}` : '';
  const constants = key.constants
    ? `{${Object.entries(key.constants)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}}`
    : '';
  return `${key.shader}${entry}${constants}`;
}

/**
 * Expands `// #include "other.wgsl"` lines with that file's text (each file once), so that
 * shared WGSL functions (GELU, reductions) have one definition. WGSL has no include of its
 * own; the directive is a comment, so each file stays valid WGSL for editors.
 */
export async function resolveIncludes(
  shader: string,
  source: ShaderSource,
  seen: Set<string> = new Set(),
): Promise<string> {
  seen.add(shader);
  const code = await source(shader);
  const lines = await Promise.all(
    code.split('\n').map(async (line) => {
      const match = /^\s*\/\/\s*#include\s+"([\w-]+)\.wgsl"\s*$/.exec(line);
      if (!match) return line;
      const name = match[1];
      if (seen.has(name)) return `// (${name}.wgsl already included)`;
      return `// ---- begin ${name}.wgsl ----\n${await resolveIncludes(name, source, seen)}\n// ---- end ${name}.wgsl ----`;
    }),
  );
  return lines.join('\n');
}
