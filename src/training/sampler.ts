/**
 * Which training images step s uses: epochs of a seeded shuffle, a function of (seed, step)
 * alone, so a resumed run needs no sampler state to continue exactly where it stopped.
 */
import { shuffledIndices } from '../data/batch';
import { mulberry32 } from '../reference/random';

export class EpochSampler {
  private epoch = -1;
  private permutation: Uint32Array = new Uint32Array(0);

  constructor(
    readonly count: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`sampler over ${count} images`);
  }

  private permutationFor(epoch: number): Uint32Array {
    if (epoch !== this.epoch) {
      // A distinct stream per epoch, decorrelated from the seed's other uses.
      this.permutation = shuffledIndices(
        this.count,
        mulberry32((this.seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0),
      );
      this.epoch = epoch;
    }
    return this.permutation;
  }

  /** The `batch` indices of optimizer step `step` (0-based). */
  indices(step: number, batch: number): Uint32Array {
    const out = new Uint32Array(batch);
    for (let k = 0; k < batch; k++) {
      const global = step * batch + k;
      out[k] = this.permutationFor(Math.floor(global / this.count))[global % this.count];
    }
    return out;
  }
}
