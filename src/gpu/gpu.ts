/**
 * The one place that finds a `GPU` object: `navigator.gpu` in a page or a Web Worker,
 * Dawn's Node binding (npm `webgpu`) in Node. Everything else receives a `GpuContext`.
 */
import { WebGpuUnavailableError } from './errors';

export type GpuHost = 'browser' | 'node';

export interface GpuEntry {
  gpu: GPU;
  host: GpuHost;
}

/** Dawn toggles for Node. `allow_unsafe_apis` exposes experimental features such as subgroup matrices. */
const NODE_DAWN_FLAGS = ['enable-dawn-features=allow_unsafe_apis'];

let nodeGpu: Promise<GPU> | undefined;

async function loadNodeGpu(): Promise<GPU> {
  // Hidden from bundlers: the browser build must never pull in the native addon.
  const moduleName = 'webgpu';
  const dawn = (await import(/* @vite-ignore */ moduleName)) as {
    create: (flags: string[]) => GPU;
    globals: Record<string, unknown>;
  };
  // Dawn's GPUBufferUsage, GPUMapMode, ... constants are what browser code expects as globals.
  for (const [key, value] of Object.entries(dawn.globals)) {
    if (!(key in globalThis)) (globalThis as Record<string, unknown>)[key] = value;
  }
  return dawn.create(NODE_DAWN_FLAGS);
}

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string' && typeof window === 'undefined';
}

export async function getGpu(): Promise<GpuEntry> {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, host: 'browser' };
  if (isNode()) {
    nodeGpu ??= loadNodeGpu();
    return { gpu: await nodeGpu, host: 'node' };
  }
  throw new WebGpuUnavailableError(
    'This browser does not expose WebGPU (navigator.gpu is missing).',
    'Use a recent Chrome, Edge or Firefox Nightly over HTTPS or localhost; on Linux Chromium, start it with --enable-unsafe-webgpu (and --enable-features=Vulkan).',
  );
}
