import { describe, expect, it } from 'vitest';
import { ChunkLossAccumulator, chunkOfPosition, perChunkLoss } from '../src/training/chunkLoss';

describe('per-chunk loss (Figure 7)', () => {
  it('assigns target positions to C equal chunks of the sequence', () => {
    // K = 16, C = 8: positions 0–1 → chunk 0, 2–3 → chunk 1, …; target 0 is never predicted.
    expect([1, 2, 3, 4, 15].map((t) => chunkOfPosition(t, 16, 8))).toEqual([0, 1, 1, 2, 7]);
    // K = 64, C = 8: 8 positions a chunk.
    expect([1, 7, 8, 63].map((t) => chunkOfPosition(t, 64, 8))).toEqual([0, 0, 1, 7]);
  });

  it('averages each chunk over the batch and its targets', () => {
    const K = 8;
    // Entry (b, i) is the loss of target i + 1; make it equal to the target index (+10 for b = 1).
    const perPosition = new Float32Array(2 * K);
    for (let i = 0; i < K - 1; i++) {
      perPosition[i] = i + 1;
      perPosition[K + i] = i + 11;
    }
    // C = 4 over 8 positions: targets {1}, {2,3}, {4,5}, {6,7}.
    expect(perChunkLoss(perPosition, 2, K, 4)).toEqual([6, 7.5, 9.5, 11.5]);
    const acc = new ChunkLossAccumulator(K, 4);
    acc.add(perPosition.subarray(0, K), 1);
    acc.add(perPosition.subarray(K), 1);
    const { chunkLoss, loss } = acc.result();
    expect(chunkLoss).toEqual([6, 7.5, 9.5, 11.5]);
    expect(loss).toBeCloseTo((28 + 98) / 14, 12);
  });

  it('ignores the last position (it predicts nothing) and uncounted targets', () => {
    const perPosition = Float32Array.from([1, 1, 1, 999]);
    expect(perChunkLoss(perPosition, 1, 4, 2)).toEqual([1, 1]);
    expect(perChunkLoss(perPosition, 1, 4, 2, (_b, i) => i >= 1 && i < 3)).toEqual([NaN, 1]);
  });
});
