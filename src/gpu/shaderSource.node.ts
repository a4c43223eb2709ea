/** Kernel sources in Node: read `shaders/<name>.wgsl` from the file system. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShaderSource } from './kernels';

/**
 * The `shaders/` folder: `AIM_SHADER_DIR` if set, else the one beside this source file
 * (tests), else `./shaders` under the working directory (bundled benchmarks run from the root).
 */
export function findShaderDir(): string {
  const fromEnv = process.env.AIM_SHADER_DIR;
  if (fromEnv) return resolve(fromEnv);
  const candidates: string[] = [];
  try {
    candidates.push(fileURLToPath(new URL('../../shaders/', import.meta.url)));
  } catch {
    // import.meta.url is not a file URL (bundled): fall through to the working directory.
  }
  candidates.push(resolve(process.cwd(), 'shaders'));
  const found = candidates.find((dir) => existsSync(join(dir, 'matmul.wgsl')));
  if (!found)
    throw new Error(
      `cannot find the shaders/ folder (looked in ${candidates.join(', ')}); set AIM_SHADER_DIR`,
    );
  return found;
}

export function fileShaderSource(dir = findShaderDir()): ShaderSource {
  return (name) => {
    const path = join(dir, `${name}.wgsl`);
    if (!existsSync(path)) throw new Error(`no shader "${name}.wgsl" in ${dir}`);
    return readFileSync(path, 'utf8');
  };
}
