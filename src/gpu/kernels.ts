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
  /** WGSL `override` constants (flags, block sizes). */
  constants?: Record<string, number>;
  /**
   * Values for module-scope `const NAME: type = …;` declarations, substituted before
   * compilation. For what `override` cannot size: function-scope register arrays (tile
   * configurations chosen per adapter and shape). An unknown name is an error.
   */
  specialize?: Record<string, number>;
}

/** Pipelines compiled so far on a device, and how many were asked for (KernelRegistry.watchCompiles). */
export interface CompileProgress {
  compiled: number;
  requested: number;
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

  private readonly compileWatchers = new Set<(progress: CompileProgress) => void>();
  private compiledCount = 0;

  /**
   * Calls `watcher` whenever a pipeline finishes compiling, with how many have finished and
   * how many were asked for so far (building a model asks for them as it goes, so the second
   * number grows too). Returns the function that stops watching.
   */
  watchCompiles(watcher: (progress: CompileProgress) => void): () => void {
    this.compileWatchers.add(watcher);
    return () => this.compileWatchers.delete(watcher);
  }

  private compiled(): void {
    this.compiledCount++;
    const progress = { compiled: this.compiledCount, requested: this.pipelines.size };
    for (const watcher of this.compileWatchers) watcher(progress);
  }

  private module(shader: string, specialize?: Record<string, number>): Promise<GPUShaderModule> {
    const key = shader + sortedEntries(specialize);
    let module = this.modules.get(key);
    if (!module) {
      module = this.compileModule(shader, specialize);
      this.modules.set(key, module);
      module.catch(() => this.modules.delete(key));
    }
    return module;
  }

  private async compileModule(
    shader: string,
    specialize?: Record<string, number>,
  ): Promise<GPUShaderModule> {
    const code = specializeConstants(
      shader,
      await resolveIncludes(shader, this.source),
      specialize,
    );
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
    const module = await this.module(key.shader, key.specialize);
    try {
      const pipeline = await this.device.createComputePipelineAsync({
        label: name,
        layout: 'auto',
        compute: { module, entryPoint: key.entryPoint ?? 'main', constants: key.constants },
      });
      this.compiled();
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

function sortedEntries(values?: Record<string, number>): string {
  if (!values || Object.keys(values).length === 0) return '';
  return `{${Object.entries(values)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}}`;
}

/** `shader:entry[specialized]{constants}` — the label in GPU error messages and timings. */
export function kernelName(key: KernelKey): string {
  const entry = key.entryPoint && key.entryPoint !== 'main' ? `:${key.entryPoint}` : '';
  const specialized = sortedEntries(key.specialize).replace(/^\{(.*)\}$/, '[$1]');
  return `${key.shader}${entry}${specialized}${sortedEntries(key.constants)}`;
}

/** Replaces the value of each named module-scope `const NAME: type = …;` (see KernelKey.specialize). */
export function specializeConstants(
  shader: string,
  code: string,
  values?: Record<string, number>,
): string {
  if (!values) return code;
  let out = code;
  for (const [name, value] of Object.entries(values)) {
    const declaration = new RegExp(`^const ${name}\\s*:\\s*(u32|i32|f32)\\s*=\\s*[^;]+;`, 'm');
    const match = declaration.exec(out);
    if (!match)
      throw new GpuKernelError(
        shader,
        'compilation',
        `${shader}.wgsl has no module-scope const ${name} to specialize`,
      );
    const type = match[1];
    if (
      (type === 'u32' && (!Number.isInteger(value) || value < 0)) ||
      (type === 'i32' && !Number.isInteger(value))
    ) {
      throw new GpuKernelError(shader, 'compilation', `const ${name}: ${type} cannot be ${value}`);
    }
    const literal = type === 'u32' ? `${value}u` : type === 'i32' ? `${value}i` : `${value}f`;
    out = out.replace(declaration, `const ${name}: ${type} = ${literal};`);
  }
  return out;
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
