/** Kernel sources for the app and its workers: every `shaders/*.wgsl`, inlined by Vite as `?raw`. */
import type { ShaderSource } from './kernels';

const files = import.meta.glob<string>('../../shaders/*.wgsl', {
  query: '?raw',
  import: 'default',
  eager: true,
});

const byName = new Map(
  Object.entries(files).map(([path, code]) => [path.replace(/^.*\/(.+)\.wgsl$/, '$1'), code]),
);

export const bundledShaderSource: ShaderSource = (name) => {
  const code = byName.get(name);
  if (code === undefined)
    throw new Error(
      `no shader "${name}.wgsl" in shaders/ (have: ${[...byName.keys()].join(', ')})`,
    );
  return code;
};

export const bundledShaderNames = (): string[] => [...byName.keys()].sort();
