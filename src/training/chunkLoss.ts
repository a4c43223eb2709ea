/**
 * Per-chunk validation loss (the data behind the paper's Figure 7): the sequence, in the
 * ordering's own order, is cut into C equal chunks of positions, and the loss of every target
 * patch is averaged within its chunk. Validation uses the causal setting (prefix S = 1), so
 * every target 1 … K−1 is predicted and all chunks are comparable across orderings.
 */

/** Chunk of target position t (1 … K−1) among C equal chunks of the K positions. */
export function chunkOfPosition(t: number, positions: number, chunks: number): number {
  return Math.min(chunks - 1, Math.floor((t * chunks) / positions));
}

/**
 * perPosition: [B, K] as the loss kernel writes it — entry (b, i) is the loss of predicting
 * target i + 1 from position i (entry K − 1 is always 0). `counted` says which (b, i) count
 * (for validation with S = 1: every i < K − 1). Returns C means; NaN for a chunk with no target.
 */
export function perChunkLoss(
  perPosition: ArrayLike<number>,
  batch: number,
  positions: number,
  chunks: number,
  counted?: (b: number, i: number) => boolean,
): number[] {
  if (perPosition.length !== batch * positions) {
    throw new RangeError(`perChunkLoss: ${perPosition.length} values for [${batch}, ${positions}]`);
  }
  const acc = new ChunkLossAccumulator(positions, chunks);
  acc.add(perPosition, batch, counted);
  return acc.result().chunkLoss;
}

/**
 * Running per-chunk and per-position means over many validation batches. Position t (0 … K−2)
 * is the position that predicts target t + 1 — the kernel's own indexing — so
 * `positionLoss[t]` is the loss of the (t + 1)-th patch of the ordering; the first patch of the
 * sequence is never predicted and has no entry.
 */
export class ChunkLossAccumulator {
  private readonly sums: number[];
  private readonly counts: number[];
  private readonly positionSums: number[];
  private readonly positionCounts: number[];

  constructor(
    readonly positions: number,
    readonly chunks: number,
  ) {
    if (!Number.isInteger(chunks) || chunks < 1)
      throw new RangeError(`perChunkLoss: ${chunks} chunks`);
    this.sums = new Array<number>(chunks).fill(0);
    this.counts = new Array<number>(chunks).fill(0);
    this.positionSums = new Array<number>(Math.max(0, positions - 1)).fill(0);
    this.positionCounts = new Array<number>(Math.max(0, positions - 1)).fill(0);
  }

  /** Adds a batch; by default evaluated with prefix S = 1 (every target counted). */
  add(
    perPosition: ArrayLike<number>,
    batch: number,
    counted?: (b: number, i: number) => boolean,
  ): void {
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < this.positions - 1; i++) {
        if (counted && !counted(b, i)) continue;
        const c = chunkOfPosition(i + 1, this.positions, this.chunks);
        const loss = perPosition[b * this.positions + i];
        this.sums[c] += loss;
        this.counts[c]++;
        this.positionSums[i] += loss;
        this.positionCounts[i]++;
      }
    }
  }

  /**
   * Per-chunk means, the overall mean over every target, and the mean per position t
   * (target t + 1; NaN where no target counted).
   */
  result(): { chunkLoss: number[]; loss: number; positionLoss: number[] } {
    const total = this.sums.reduce((a, b) => a + b, 0);
    const count = this.counts.reduce((a, b) => a + b, 0);
    return {
      chunkLoss: this.sums.map((s, c) => (this.counts[c] > 0 ? s / this.counts[c] : NaN)),
      loss: count > 0 ? total / count : NaN,
      positionLoss: this.positionSums.map((s, i) =>
        this.positionCounts[i] > 0 ? s / this.positionCounts[i] : NaN,
      ),
    };
  }
}

/**
 * x to `digits` significant digits: what a run record keeps of each position's loss (one number
 * per position per evaluation; 4 digits resolve 1e-4 of a loss, far finer than a map's colours).
 */
export function roundSignificant(x: number, digits: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}
