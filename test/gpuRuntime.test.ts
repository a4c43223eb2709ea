import { describe, expect, it } from 'vitest';
import { GpuContext } from '../src/gpu/context';
import { GpuKernelError } from '../src/gpu/errors';
import { fileShaderSource } from '../src/gpu/shaderSource.node';
import { Tensor } from '../src/gpu/tensor';
import { timeComputePass } from '../src/gpu/timing';
import { recordDispatch } from '../src/gpu/dispatch';
import { prepareMatmul } from '../src/kernels/matmul';
import { testGpu } from './gpuContext';

describe('GPU runtime in Node (Dawn)', () => {
  it('finds an adapter and records its capabilities', async () => {
    const ctx = await testGpu();
    const caps = ctx.capabilities;
    expect(caps.host).toBe('node');
    expect(caps.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(caps.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    // Every flag must agree with the device's own feature set.
    expect(caps.timestampQuery).toBe(ctx.device.features.has('timestamp-query'));
    expect(caps.subgroups).toBe(ctx.device.features.has('subgroups'));
    expect(caps.shaderF16).toBe(ctx.device.features.has('shader-f16'));
    expect(caps.features).toEqual([...ctx.device.features].map(String).sort());
  });

  it('requests the adapter limits, not the WebGPU defaults', async () => {
    const ctx = await testGpu();
    // The spec default maxStorageBufferBindingSize is 128 MiB; SwiftShader and real GPUs offer more.
    expect(ctx.device.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * 1024 * 1024);
  });

  it('round-trips tensors through upload and download', async () => {
    const ctx = await testGpu();
    const values = Float32Array.from({ length: 1001 }, (_, i) => i * 0.5 - 3);
    const t = Tensor.fromArray(ctx, [7, 11, 13], 'f32', values, 'roundtrip');
    expect(Array.from(await t.download())).toEqual(Array.from(values));
    const u = Tensor.fromArray(ctx, [3], 'u32', [0, 1, 0xffffffff], 'u32 roundtrip');
    expect(Array.from(await u.download())).toEqual([0, 1, 0xffffffff]);
    t.destroy();
    u.destroy();
  });

  it('caches pipelines per shader and constants', async () => {
    const ctx = await testGpu();
    const first = await ctx.kernels.get({ shader: 'matmul' });
    const count = ctx.kernels.pipelineCount;
    const again = await ctx.kernels.get({ shader: 'matmul' });
    expect(again).toBe(first);
    expect(ctx.kernels.pipelineCount).toBe(count);
  });

  it('reports each compiled pipeline to its watchers until they stop watching', async () => {
    const ctx = await testGpu();
    const seen: { compiled: number; requested: number }[] = [];
    const stop = ctx.kernels.watchCompiles((p) => seen.push(p));
    // Constants no other test uses, so these pipelines are new to the shared device.
    const before = seen.length;
    const a = ctx.kernels.get({
      shader: 'gelu',
      entryPoint: 'forward',
      constants: { FLAT_WORKGROUP: 32 },
    });
    await a;
    expect(seen.length).toBe(before + 1);
    const last = seen.at(-1)!;
    expect(last.compiled).toBeGreaterThan(0);
    expect(last.requested).toBeGreaterThanOrEqual(last.compiled);
    // A cached pipeline compiles nothing; after stop() nothing is reported.
    await ctx.kernels.get({
      shader: 'gelu',
      entryPoint: 'forward',
      constants: { FLAT_WORKGROUP: 32 },
    });
    expect(seen.length).toBe(before + 1);
    stop();
    await ctx.kernels.get({
      shader: 'gelu',
      entryPoint: 'forward',
      constants: { FLAT_WORKGROUP: 16 },
    });
    expect(seen.length).toBe(before + 1);
  });

  it('raises a compilation error naming the shader file', async () => {
    const ctx = await GpuContext.create({
      shaderSource: (name) =>
        name === 'broken'
          ? '@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }'
          : fileShaderSource()(name),
    });
    try {
      const failure = await ctx.kernels.get({ shader: 'broken' }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(GpuKernelError);
      expect((failure as GpuKernelError).kind).toBe('compilation');
      expect((failure as GpuKernelError).message).toContain('broken.wgsl');
    } finally {
      ctx.destroy();
    }
  });

  it('surfaces a validation error with the kernel name instead of swallowing it', async () => {
    const ctx = await testGpu();
    const a = Tensor.empty(ctx, [4, 4], 'f32', 'A');
    const b = Tensor.empty(ctx, [4, 4], 'f32', 'B');
    const c = Tensor.empty(ctx, [4, 4], 'f32', 'C');
    const [dispatch] = await prepareMatmul(ctx, { a, b, c });
    const failure = await ctx
      .submit('matmul with a wrong binding', (encoder) => {
        const pass = encoder.beginComputePass();
        pass.setPipeline(dispatch.pipeline);
        pass.setBindGroup(
          0,
          ctx.device.createBindGroup({
            label: 'deliberately wrong',
            layout: dispatch.pipeline.getBindGroupLayout(0),
            entries: [a, b, c, a, a, a, a].map((t, binding) => ({
              binding,
              // A storage buffer where the kernel expects its uniform: a validation error.
              resource: { buffer: t.buffer },
            })),
          }),
        );
        pass.dispatchWorkgroups(1);
        pass.end();
      })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(GpuKernelError);
    expect((failure as GpuKernelError).kind).toBe('validation');
    expect((failure as GpuKernelError).kernel).toBe('matmul with a wrong binding');
    for (const t of [a, b, c]) t.destroy();
  });

  it('times a compute pass on the GPU', async () => {
    const ctx = await testGpu();
    const a = Tensor.empty(ctx, [64, 64], 'f32', 'A');
    const c = Tensor.empty(ctx, [64, 64], 'f32', 'C');
    const [dispatch] = await prepareMatmul(ctx, { a, b: a, c });
    const timing = await timeComputePass(ctx, 'matmul 64³', (pass) =>
      recordDispatch(pass, dispatch),
    );
    expect(timing.source).toBe(ctx.capabilities.timestampQuery ? 'timestamp-query' : 'wall-clock');
    expect(timing.ms).toBeGreaterThan(0);
    expect(Number.isFinite(timing.ms)).toBe(true);
  });

  it('reports device loss to the caller', async () => {
    const lost: string[] = [];
    const ctx = await GpuContext.create({
      shaderSource: fileShaderSource(),
      onDeviceLost: (e) => lost.push(e.reason),
    });
    // Our own destroy() must resolve `lost` but is not reported as an unexpected loss.
    ctx.destroy();
    const error = await ctx.lost;
    expect(error.reason).toBe('destroyed');
    expect(lost).toEqual([]);
  });

  it('calls onDeviceLost when the device goes away underneath the context', async () => {
    const lost: string[] = [];
    const ctx = await GpuContext.create({
      shaderSource: fileShaderSource(),
      onDeviceLost: (e) => lost.push(e.message),
    });
    // Destroying the raw device (not through ctx.destroy) looks to the context like a driver loss.
    ctx.device.destroy();
    await ctx.lost;
    expect(lost).toHaveLength(1);
    expect(lost[0]).toContain('GPU device lost');
  });
});
