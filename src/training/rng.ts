/**
 * The trainer's random number generator: mulberry32 with its state exposed, so a checkpoint
 * can store it and a resumed run draws exactly the numbers the uninterrupted run would have.
 */
export class Rng {
  constructor(private state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). Same sequence as src/reference/random.ts's mulberry32(seed). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer uniform in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** The generator as a function, for code that takes `() => number`. */
  get uniform(): () => number {
    return () => this.next();
  }

  getState(): number {
    return this.state;
  }

  setState(state: number): void {
    this.state = state >>> 0;
  }
}
