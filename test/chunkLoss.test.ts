import { describe, expect, it } from 'vitest';
import {
  ChunkLossAccumulator,
  chunkOfPosition,
  perChunkLoss,
  roundSignificant,
} from '../src/training/chunkLoss';

/** Chunk means of per-position means, position t holding target t + 1. */
function chunkMeans(positionLoss: readonly number[], chunks: number): number[] {
  const positions = positionLoss.length + 1;
  const sums = new Array<number>(chunks).fill(0);
  const counts = new Array<number>(chunks).fill(0);
  positionLoss.forEach((v, t) => {
    const c = chunkOfPosition(t + 1, positions, chunks);
    sums[c] += v;
    counts[c]++;
  });
  return sums.map((s, c) => (counts[c] ? s / counts[c] : NaN));
}

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

  it('keeps the mean loss per position (target t + 1), whose chunk means are the chunk loss', () => {
    // K = 16 as aim-micro's 4×4 grid; three batches of different sizes, random losses.
    const K = 16;
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 3;
    const acc = new ChunkLossAccumulator(K, 8);
    const sums = new Array<number>(K - 1).fill(0);
    let images = 0;
    for (const batch of [3, 1, 5]) {
      const perPosition = Float32Array.from({ length: batch * K }, random);
      acc.add(perPosition, batch);
      for (let b = 0; b < batch; b++)
        for (let t = 0; t < K - 1; t++) sums[t] += perPosition[b * K + t];
      images += batch;
    }
    const { positionLoss, chunkLoss, loss } = acc.result();
    expect(positionLoss).toHaveLength(K - 1);
    positionLoss.forEach((v, t) => expect(v).toBeCloseTo(sums[t] / images, 12));
    chunkMeans(positionLoss, 8).forEach((v, c) => expect(v).toBeCloseTo(chunkLoss[c], 12));
    // Uneven chunks too (C = 3 over 16 positions: 5, 5, 5 targets after the first).
    const three = new ChunkLossAccumulator(K, 3);
    three.add(Float32Array.from({ length: 2 * K }, random), 2);
    const r3 = three.result();
    chunkMeans(r3.positionLoss, 3).forEach((v, c) => expect(v).toBeCloseTo(r3.chunkLoss[c], 12));
    expect(loss).toBeCloseTo(positionLoss.reduce((a, b) => a + b, 0) / (K - 1), 12);
  });

  it('leaves a position with no counted target NaN', () => {
    const acc = new ChunkLossAccumulator(4, 2);
    acc.add(Float32Array.from([1, 2, 3, 0]), 1, (_b, i) => i !== 1);
    expect(acc.result().positionLoss).toEqual([1, NaN, 3]);
  });

  it('rounds a recorded loss to 4 significant digits', () => {
    expect(roundSignificant(0.727249, 4)).toBe(0.7272);
    expect(roundSignificant(12.34567, 4)).toBe(12.35);
    expect(roundSignificant(0.000123456, 4)).toBe(0.0001235);
    expect(roundSignificant(0, 4)).toBe(0);
    expect(roundSignificant(NaN, 4)).toBeNaN();
  });
});
