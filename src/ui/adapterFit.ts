/**
 * Whether training a configuration fits this adapter, decided before a run starts: the
 * buffer-by-buffer estimate (src/model/memory.ts, the same walk the allocator makes) against
 * the adapter's per-buffer limits. Without it, a batch the page already knew to be impossible
 * was accepted and failed after a long model build (issue 15, defect 4).
 */
import type { GpuCapabilities } from '../gpu/capabilities';
import { estimateTrainingMemory } from '../model/memory';
import { modelConfigFor, validateSettings, type RunSettings } from '../training/settings';
import { formatBytes } from '../util/format';

type BufferLimits = Pick<
  GpuCapabilities['limits'],
  'maxStorageBufferBindingSize' | 'maxBufferSize'
>;

/** The most one buffer may hold on this adapter: the tighter of the two limits. */
export function singleBufferLimit(limits: BufferLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/** The largest single buffer a run of these settings allocates, in bytes, and its label. */
function largestBuffer(settings: RunSettings, batch: number) {
  return estimateTrainingMemory(modelConfigFor(settings), batch).largestBuffer;
}

/** The largest batch below `batch` whose largest buffer fits `limit` (0 when not even 1 does). */
export function largestFittingBatch(settings: RunSettings, batch: number, limit: number): number {
  const fits = (b: number) => largestBuffer(settings, b).bytes <= limit;
  if (!fits(1)) return 0;
  // Every buffer grows with the batch, so the fitting batches are 1 … n: bisect for n.
  let lo = 1;
  let hi = Math.max(1, batch - 1);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Sentences saying why these settings cannot train on this adapter; empty when they can. */
export function adapterFitProblems(settings: RunSettings, limits: BufferLimits): string[] {
  if (validateSettings(settings).length > 0) return [];
  const limit = singleBufferLimit(limits);
  const largest = largestBuffer(settings, settings.batch);
  if (largest.bytes <= limit) return [];
  const fits = largestFittingBatch(settings, settings.batch, limit);
  const advice =
    fits > 0
      ? `A batch of ${fits} or less fits.`
      : `It does not fit at any batch size; choose a smaller preset.`;
  return [
    `${settings.preset} at batch ${settings.batch} needs a ${formatBytes(largest.bytes)} buffer ` +
      `(${largest.label}), more than this GPU allows in one buffer (${formatBytes(limit)}). ${advice}`,
  ];
}
