/**
 * One record of what the adapter offers. The rest of the code reads this object to pick
 * kernel variants and tile sizes; it never queries the adapter itself.
 */

/** Optional features we look for and request when present. */
export const WANTED_FEATURES = [
  'subgroups',
  'shader-f16',
  'timestamp-query',
  'chromium-experimental-subgroup-matrix',
] as const satisfies readonly string[];

/** The limits we raise to the adapter's maximum (the defaults are far below what GPUs allow). */
export const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxUniformBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxBindGroups',
  'maxBindingsPerBindGroup',
] as const;

export type RaisedLimit = (typeof RAISED_LIMITS)[number];

export interface GpuCapabilities {
  host: 'browser' | 'node';
  adapter: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter: boolean;
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  /** Feature flags the kernels branch on; each true only if the device was created with it. */
  subgroups: boolean;
  shaderF16: boolean;
  timestampQuery: boolean;
  subgroupMatrix: boolean;
  /** Every feature the device was created with, sorted. */
  features: string[];
  /** The device's limits (after raising them to the adapter's maxima). */
  limits: Record<RaisedLimit, number>;
}

/** A short human name for the adapter, e.g. "nvidia · hopper · nvidia-h100" or "SwiftShader". */
export function adapterDisplayName(caps: GpuCapabilities): string {
  const { vendor, architecture, device, description } = caps.adapter;
  if (description) return description;
  return [vendor, architecture, device].filter(Boolean).join(' · ') || 'unknown adapter';
}

export function requiredLimitsFor(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof value === 'number') out[name] = value;
  }
  return out;
}

export function describeCapabilities(
  adapter: GPUAdapter,
  device: GPUDevice,
  host: 'browser' | 'node',
): GpuCapabilities {
  // `adapter.info` is the current API; older Chromium had only requestAdapterInfo().
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const infoExtra = info as
    (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined;
  const features = [...device.features].map(String).sort();
  const limits = {} as Record<RaisedLimit, number>;
  for (const name of RAISED_LIMITS) {
    limits[name] = (device.limits as unknown as Record<string, number>)[name] ?? 0;
  }
  const isFallbackAdapter =
    (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    false;
  return {
    host,
    adapter: {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
      isFallbackAdapter,
      subgroupMinSize: infoExtra?.subgroupMinSize,
      subgroupMaxSize: infoExtra?.subgroupMaxSize,
    },
    subgroups: device.features.has('subgroups'),
    shaderF16: device.features.has('shader-f16'),
    timestampQuery: device.features.has('timestamp-query'),
    subgroupMatrix: device.features.has('chromium-experimental-subgroup-matrix'),
    features,
    limits,
  };
}
