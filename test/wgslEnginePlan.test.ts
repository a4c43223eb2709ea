/**
 * Our WGSL engine's plan for the paper's shapes (600M, 1B, 3B, 7B with its 20 of 32 blocks)
 * against adapters' limits as data: which fit, which are refused and why. The buffer list is
 * the one the engine allocates; its trunk part is memory.ts's walk (checked against real
 * allocations in memory.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { adapterProfile, type AdapterProfileName } from '../src/gpu/adapterProfiles';
import {
  planWgslEngine,
  wgslEngineBuffers,
  type WgslEngineShape,
} from '../src/inference/wgslEnginePlan';
import { PRESETS } from '../src/model/config';
import { trainingBuffers } from '../src/model/memory';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** A released shape as our engine runs it: blocks up to the last probe layer, 1000 classes. */
function released(name: 'aim-600M' | 'aim-1B' | 'aim-3B' | 'aim-7B'): WgslEngineShape {
  const p = PRESETS[name];
  return {
    config: { ...p, depth: name === 'aim-7B' ? 20 : p.depth },
    mode: 'probe-layers',
    classes: 1000,
  };
}

const limitsOf = (name: AdapterProfileName) => adapterProfile(name).limits;
const WEBGPU_DEFAULTS = { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB };

describe('our engine on the paper shapes', () => {
  it('600M and 1B fit even WebGPU default limits; 3B and 7B are refused there, naming the weight', () => {
    expect(planWgslEngine(released('aim-600M'), WEBGPU_DEFAULTS).ok).toBe(true);
    expect(planWgslEngine(released('aim-1B'), WEBGPU_DEFAULTS).ok).toBe(true);
    const b3 = planWgslEngine(released('aim-3B'), WEBGPU_DEFAULTS);
    expect(b3.ok).toBe(false);
    // fc1: 12288 × 3072 f32 = 144 MiB > 128 MiB.
    expect(b3.largestTensor).toEqual({ label: 'trunk.blocks.0.mlp.fc1.weight', bytes: 144 * MiB });
    expect(b3.reason).toMatch(
      /trunk\.blocks\.0\.mlp\.fc1\.weight is 144\.0 MiB as f32.*maxStorageBufferBindingSize of 128\.0 MiB/,
    );
    const b7 = planWgslEngine(released('aim-7B'), WEBGPU_DEFAULTS);
    expect(b7.ok).toBe(false);
    expect(b7.largestTensor.bytes).toBe(256 * MiB);
  });

  it('every shape fits the H100, M2, Iris Xe and SwiftShader profiles buffer by buffer', () => {
    for (const profile of ['h100', 'm2', 'xe', 'swiftshader'] as const)
      for (const name of ['aim-600M', 'aim-1B', 'aim-3B', 'aim-7B'] as const) {
        const plan = planWgslEngine(released(name), limitsOf(profile));
        expect(plan.ok, `${name} on ${profile}: ${plan.reason}`).toBe(true);
        expect(plan.largest.bytes).toBeLessThanOrEqual(
          limitsOf(profile).maxStorageBufferBindingSize,
        );
      }
  });

  it('the total is the f32 weights plus activations, and a known memory size bounds it', () => {
    const p7 = planWgslEngine(released('aim-7B'), limitsOf('h100'));
    // 20 blocks of 12·4096² weights (qkv 3, proj 1, fc1 4, fc2 4) as f32 ≈ 15 GiB; on top,
    // every block's activations (the trunk keeps the training layout, ≈ 1.3 GiB at one image)
    // and the probe's k, v with their unused gradients and moments (0.5 GiB).
    const blockWeights = 20 * 12 * 4096 * 4096 * 4;
    expect(p7.totalBytes).toBeGreaterThan(blockWeights);
    expect(p7.totalBytes).toBeLessThan(blockWeights * 1.15);
    expect(planWgslEngine(released('aim-7B'), limitsOf('h100'), { memoryBytes: 80 * GiB }).ok).toBe(
      true,
    );
    const small = planWgslEngine(released('aim-7B'), limitsOf('m2'), { memoryBytes: 8 * GiB });
    expect(small.ok).toBe(false);
    expect(small.reason).toMatch(/needs 16\.\d\d GiB of GPU memory.*8\.00 GiB/);
  });

  it('the trunk part is memory.ts’s trunk-only walk; probe and bank buffers come on top', () => {
    const shape = released('aim-600M');
    const trunk = trainingBuffers(shape.config, 1, { trunkOnly: true });
    const all = wgslEngineBuffers(shape, 1);
    expect(all.slice(0, trunk.length)).toEqual(trunk.map(({ label, bytes }) => ({ label, bytes })));
    const K = 256;
    const D = 1536;
    expect(all.find((b) => b.label === 'probe feature bank')?.bytes).toBe(4 * K * D);
    expect(all.find((b) => b.label === 'probe probs')?.bytes).toBe(4 * 12 * K);
    // Without a probe there is no head; a post-trunk-norm model gets its norm's buffers.
    const bare = wgslEngineBuffers({ config: shape.config, mode: 'post-trunk-norm' }, 3);
    expect(bare.some((b) => b.label.startsWith('head.'))).toBe(false);
    expect(bare.find((b) => b.label === 'post-trunk norm output')?.bytes).toBe(3 * 4 * K * D);
  });

  it('a trunk tensor over maxBufferSize (below the binding limit) names that limit', () => {
    const plan = planWgslEngine(released('aim-1B'), {
      maxBufferSize: 32 * MiB,
      maxStorageBufferBindingSize: 128 * MiB,
    });
    expect(plan.ok).toBe(false);
    expect(plan.reason).toMatch(/fc1\.weight is 64\.0 MiB.*maxBufferSize of 32\.0 MiB/);
  });
});
