/**
 * Named adapter profiles: what WebGPU reports on GPUs we cannot run here, as data. Every
 * kernel choice (tile sizes, split-K, subgroup variants) is a pure function of a
 * `GpuCapabilities`, so passing one of these instead of the real adapter's makes every choice
 * exactly as it would be on that GPU: the step profile (`npm run bench -- --suite profile
 * --as h100`) and the unit tests of the choice functions both use them.
 *
 * Sources: `h100` is what ../shared/device/probe.mjs printed on the lent H100 80GB HBM3
 * (Dawn for Node over Vulkan, driver 580; see ../shared/device/README.md). `m2` and `xe` are
 * NOT probed by this project: they are the typical limits Chrome exposes on Apple M2 (Metal)
 * and Intel Iris Xe, limited to what the kernels branch on (workgroup storage, invocations,
 * binding sizes, subgroup sizes, f16); replace them with a real adapter report when one is
 * at hand. `swiftshader` is ../shared/TESTING.md's probe of Chromium's CPU adapter.
 */
import type { GpuCapabilities, RaisedLimit } from './capabilities';

export const ADAPTER_PROFILE_NAMES = ['h100', 'm2', 'xe', 'swiftshader'] as const;
export type AdapterProfileName = (typeof ADAPTER_PROFILE_NAMES)[number];

const GiB = 1024 ** 3;

/** WebGPU's defaults for the limits no profile sets differently. */
const BASE_LIMITS: Record<RaisedLimit, number> = {
  maxBufferSize: 256 * 1024 ** 2,
  maxStorageBufferBindingSize: 128 * 1024 ** 2,
  maxUniformBufferBindingSize: 65536,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
  maxBindGroups: 4,
  maxBindingsPerBindGroup: 1000,
};

interface ProfileSpec {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  subgroupSizes: [number, number];
  features: string[];
  limits: Partial<Record<RaisedLimit, number>>;
}

const PROFILES: Record<AdapterProfileName, ProfileSpec> = {
  h100: {
    vendor: 'nvidia',
    architecture: 'hopper',
    device: 'nvidia-h100-80gb-hbm3',
    description: 'NVIDIA H100 80GB HBM3 (profile)',
    isFallbackAdapter: false,
    subgroupSizes: [32, 32],
    // No shader-f16 through Dawn/Vulkan there; subgroup matrices are integer-only, so the
    // f32 kernels do not use them.
    features: ['subgroups', 'subgroup-size-control', 'timestamp-query'],
    limits: {
      maxBufferSize: 1024 * GiB,
      maxStorageBufferBindingSize: 2 * GiB - 4,
      maxStorageBuffersPerShaderStage: 10,
      maxComputeWorkgroupStorageSize: 49152,
      maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupSizeX: 1024,
      maxComputeWorkgroupSizeY: 1024,
    },
  },
  m2: {
    vendor: 'apple',
    architecture: 'metal-3',
    device: '',
    description: 'Apple M2 (profile)',
    isFallbackAdapter: false,
    subgroupSizes: [32, 32],
    features: ['subgroups', 'shader-f16', 'timestamp-query'],
    limits: {
      maxBufferSize: 4 * GiB,
      maxStorageBufferBindingSize: 4 * GiB - 4,
      maxStorageBuffersPerShaderStage: 10,
      maxComputeWorkgroupStorageSize: 32768,
      maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupSizeX: 1024,
      maxComputeWorkgroupSizeY: 1024,
    },
  },
  xe: {
    vendor: 'intel',
    architecture: 'gen-12lp',
    device: '',
    description: 'Intel Iris Xe (profile)',
    isFallbackAdapter: false,
    subgroupSizes: [8, 32],
    features: ['subgroups', 'shader-f16', 'timestamp-query'],
    limits: {
      maxBufferSize: 2 * GiB,
      maxStorageBufferBindingSize: 2 * GiB - 4,
      maxStorageBuffersPerShaderStage: 10,
      maxComputeWorkgroupStorageSize: 32768,
      maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupSizeX: 1024,
      maxComputeWorkgroupSizeY: 1024,
    },
  },
  swiftshader: {
    vendor: 'google',
    architecture: 'swiftshader',
    device: '',
    description: 'SwiftShader (profile)',
    isFallbackAdapter: true,
    subgroupSizes: [4, 4],
    features: ['float32-filterable', 'subgroups', 'timestamp-query'],
    limits: {
      maxBufferSize: GiB,
      maxStorageBufferBindingSize: GiB,
      maxStorageBuffersPerShaderStage: 10,
      maxComputeWorkgroupStorageSize: 32768,
    },
  },
};

/** The capabilities a device created on that adapter would report (browser host). */
export function adapterProfile(name: AdapterProfileName): GpuCapabilities {
  const spec = PROFILES[name];
  const features = [...spec.features].sort();
  return {
    host: 'browser',
    adapter: {
      vendor: spec.vendor,
      architecture: spec.architecture,
      device: spec.device,
      description: spec.description,
      isFallbackAdapter: spec.isFallbackAdapter,
      subgroupMinSize: spec.subgroupSizes[0],
      subgroupMaxSize: spec.subgroupSizes[1],
    },
    subgroups: features.includes('subgroups'),
    shaderF16: features.includes('shader-f16'),
    timestampQuery: features.includes('timestamp-query'),
    subgroupMatrix: features.includes('chromium-experimental-subgroup-matrix'),
    features,
    limits: { ...BASE_LIMITS, ...spec.limits },
  };
}

export function isAdapterProfileName(name: string): name is AdapterProfileName {
  return (ADAPTER_PROFILE_NAMES as readonly string[]).includes(name);
}
