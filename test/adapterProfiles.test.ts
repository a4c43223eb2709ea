/**
 * Named adapter profiles as data, and the kernel choices made from them: the choice functions
 * are pure functions of a GpuCapabilities object, so "as on an H100" is testable here.
 */
import { describe, expect, it } from 'vitest';
import {
  ADAPTER_PROFILE_NAMES,
  adapterProfile,
  isAdapterProfileName,
} from '../src/gpu/adapterProfiles';
import { RAISED_LIMITS, WANTED_FEATURES } from '../src/gpu/capabilities';
import { unmetChoiceNeeds } from '../src/gpu/context';
import { foldedGrid } from '../src/gpu/dispatch';
import { chooseMatmulStages, chooseMatmulTile, matmulShape } from '../src/kernels/matmul';
import { matmulStageBytes } from '../src/kernels/matmulPlan';

/** aim-tiny at batch 256: 16384 token rows of width 192 (MLP 768, qkv 576). */
const TINY_ROWS = 256 * 64;

describe('adapter profiles', () => {
  it('every profile names every raised limit and only features WebGPU defines', () => {
    const known = new Set<string>([
      ...WANTED_FEATURES,
      'subgroup-size-control',
      'float32-filterable',
    ]);
    for (const name of ADAPTER_PROFILE_NAMES) {
      const caps = adapterProfile(name);
      for (const limit of RAISED_LIMITS)
        expect(caps.limits[limit], `${name} ${limit}`).toBeGreaterThan(0);
      for (const f of caps.features) expect(known.has(f), `${name} feature ${f}`).toBe(true);
      expect(caps.subgroups).toBe(caps.features.includes('subgroups'));
      expect(caps.shaderF16).toBe(caps.features.includes('shader-f16'));
      expect(caps.adapter.description).toMatch(/\(profile\)$/);
    }
  });

  it('h100 is the probed device: 1024 invocations, 48 KiB workgroup storage, subgroups of 32, no f16', () => {
    const h100 = adapterProfile('h100');
    expect(h100.limits.maxComputeInvocationsPerWorkgroup).toBe(1024);
    expect(h100.limits.maxComputeWorkgroupStorageSize).toBe(49152);
    expect(h100.adapter.subgroupMinSize).toBe(32);
    expect(h100.shaderF16).toBe(false);
    expect(h100.adapter.isFallbackAdapter).toBe(false);
    expect(adapterProfile('swiftshader').adapter.isFallbackAdapter).toBe(true);
  });

  it('each call returns a fresh object, so a caller cannot change the table', () => {
    const a = adapterProfile('m2');
    a.limits.maxBufferSize = 1;
    a.features.push('x');
    expect(adapterProfile('m2').limits.maxBufferSize).toBeGreaterThan(1);
    expect(adapterProfile('m2').features).not.toContain('x');
  });

  it('knows its names', () => {
    expect(isAdapterProfileName('h100')).toBe(true);
    expect(isAdapterProfileName('this')).toBe(false);
  });
});

describe('kernel choices under each profile', () => {
  const forwardQkv = matmulShape([TINY_ROWS, 192], [576, 192], { transB: true });
  const forwardFc2 = matmulShape([TINY_ROWS, 768], [192, 768], { transB: true });
  const wgradFc1 = matmulShape([TINY_ROWS, 768], [TINY_ROWS, 192], { transA: true });
  const wgradPatch = matmulShape([TINY_ROWS, 192], [TINY_ROWS, 48], { transA: true });

  it('h100 takes the large tile where the output fills it (the forward products of aim-tiny)', () => {
    const caps = adapterProfile('h100');
    expect(chooseMatmulTile(caps, forwardQkv)).toBe('large');
    expect(chooseMatmulTile(caps, forwardFc2)).toBe('large');
  });

  it('swiftshader (a CPU adapter) always takes the small tile', () => {
    const caps = adapterProfile('swiftshader');
    for (const s of [forwardQkv, forwardFc2, wgradFc1, wgradPatch]) {
      expect(chooseMatmulTile(caps, s)).toBe('small');
    }
  });

  it('the choice depends on the capabilities object only, not on anything else', () => {
    const caps = adapterProfile('h100');
    const fallback = { ...caps, adapter: { ...caps.adapter, isFallbackAdapter: true } };
    expect(chooseMatmulTile(caps, forwardQkv)).toBe('large');
    expect(chooseMatmulTile(fallback, forwardQkv)).toBe('small');
  });

  it('matmul shared memory is double-buffered where two stages fit the workgroup memory', () => {
    // One stage: TILE_K rows of A and of B, each tile + 4 words wide.
    expect(matmulStageBytes('large')).toBe(2 * 8 * 132 * 4);
    expect(matmulStageBytes('small')).toBe(2 * 16 * 68 * 4);
    for (const name of ADAPTER_PROFILE_NAMES) {
      const caps = adapterProfile(name);
      for (const tile of ['large', 'small'] as const)
        expect(chooseMatmulStages(caps, tile), `${name} ${tile}`).toBe(
          !caps.adapter.isFallbackAdapter &&
            2 * matmulStageBytes(tile) <= caps.limits.maxComputeWorkgroupStorageSize
            ? 2
            : 1,
        );
    }
    const h100 = adapterProfile('h100');
    expect(chooseMatmulStages(h100, 'large')).toBe(2);
    expect(chooseMatmulStages(adapterProfile('m2'), 'small')).toBe(2);
    // A CPU adapter takes one, whatever its memory (SwiftShader offers 32 KiB).
    const swiftshader = adapterProfile('swiftshader');
    expect(swiftshader.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(
      2 * matmulStageBytes('small'),
    );
    expect(chooseMatmulStages(swiftshader, 'small')).toBe(1);
    // WebGPU's guaranteed 16 KiB holds one stage of either tile, not two.
    const minimal = { ...h100, limits: { ...h100.limits, maxComputeWorkgroupStorageSize: 16384 } };
    expect(chooseMatmulStages(minimal, 'large')).toBe(1);
    expect(chooseMatmulStages(minimal, 'small')).toBe(1);
  });

  it('flat grids fold at the profile limit', () => {
    const limit = adapterProfile('h100').limits.maxComputeWorkgroupsPerDimension;
    expect(foldedGrid(limit, limit)).toEqual([limit, 1]);
    const [x, y] = foldedGrid(limit + 1, limit);
    expect(x).toBeLessThanOrEqual(limit);
    expect(x * y).toBeGreaterThanOrEqual(limit + 1);
  });
});

describe('what a chosen variant needs of the real device', () => {
  it('names each limit and feature the device lacks', () => {
    const swiftshader = adapterProfile('swiftshader');
    expect(
      unmetChoiceNeeds({ limits: { maxComputeInvocationsPerWorkgroup: 1024 } }, swiftshader),
    ).toEqual(['maxComputeInvocationsPerWorkgroup ≥ 1024 (it offers 256)']);
    expect(unmetChoiceNeeds({ features: ['shaderF16'] }, swiftshader)).toEqual([
      'feature shaderF16',
    ]);
    expect(
      unmetChoiceNeeds(
        { features: ['subgroups'], limits: { maxComputeInvocationsPerWorkgroup: 1024 } },
        adapterProfile('h100'),
      ),
    ).toEqual([]);
  });
});
