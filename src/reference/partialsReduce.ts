/**
 * Float64 reference of shaders/partials_reduce.wgsl: out[j] (+)= Σ_{s < count}
 * partials[s·stride + j] for j < length, and the same sum in f32 in the kernel's order (from
 * 0.0, split by split) — which the kernel must match bit for bit.
 */

export interface PartialsReduceCase {
  partials: ArrayLike<number>;
  /** The output's values before the pass (read when accumulating). */
  out: ArrayLike<number>;
  count: number;
  stride: number;
  length: number;
  accumulate: boolean;
}

/** The exact sums (float64). */
export function partialsReduceReference(c: PartialsReduceCase): Float64Array {
  const y = new Float64Array(c.length);
  for (let j = 0; j < c.length; j++) {
    let sum = c.accumulate ? c.out[j] : 0;
    for (let s = 0; s < c.count; s++) sum += c.partials[s * c.stride + j];
    y[j] = sum;
  }
  return y;
}

/** The kernel's own f32 arithmetic, in its order. */
export function partialsReduceF32(c: PartialsReduceCase): Float32Array {
  const y = new Float32Array(c.length);
  for (let j = 0; j < c.length; j++) {
    let sum = 0;
    for (let s = 0; s < c.count; s++) sum = Math.fround(sum + c.partials[s * c.stride + j]);
    y[j] = c.accumulate ? Math.fround(c.out[j] + sum) : sum;
  }
  return y;
}
