/**
 * The page's one-second GPU speed measurement: it must time the work, not the submission
 * (a rate above any plausible peak means it did not wait for the GPU), and free what it made.
 */
import { describe, expect, it } from 'vitest';
import { measureGpuRate, RATE_SHAPE } from '../src/training/gpuRate';
import { testGpu } from './gpuContext';

describe('measureGpuRate', () => {
  it('times finished products at a plausible rate', async () => {
    const ctx = await testGpu();
    const rate = await measureGpuRate(ctx, { budgetMs: 200, maxSubmissions: 3 });
    expect(rate.submissions).toBeGreaterThanOrEqual(2);
    expect(rate.ms).toBeGreaterThan(0);
    // 4 products of 2·M·N·K FLOPs in rate.ms.
    const { m, n, k } = RATE_SHAPE;
    expect(rate.flopsPerMs).toBeCloseTo((4 * 2 * m * n * k) / rate.ms, 0);
    // A CPU (fallback) adapter such as SwiftShader is far below 1 TFLOP/s (1e9 FLOPs per ms);
    // timing only the submission reported ~2e9 per ms on one.
    if (ctx.capabilities.adapter.isFallbackAdapter) expect(rate.flopsPerMs).toBeLessThan(1e9);
  }, 120_000);
});
