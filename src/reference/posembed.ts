/**
 * ml-aim's fixed 2-D sin-cos positional embedding, in float64 (`get_2d_sincos_pos_embed`,
 * the MAE formula). Also what the app uploads, rounded to f32, as the table that
 * `shaders/posembed.wgsl` adds — built once on the CPU rather than per step on the GPU.
 */

/**
 * The [gridH·gridW, dim] table in raster order (position k = row·gridW + col). Channels
 * [0, dim/2) encode the column, [dim/2, dim) the row; each half is
 * [sin(p·ω_0) … sin(p·ω_{n−1}), cos(p·ω_0) … cos(p·ω_{n−1})] with n = dim/4 and
 * ω_k = 1 / 10000^(k/n).
 */
export function sinCosPositionalEmbedding(gridH: number, gridW: number, dim: number): Float64Array {
  for (const [name, v] of [
    ['gridH', gridH],
    ['gridW', gridW],
    ['dim', dim],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`posembed: ${name} = ${v} must be a positive integer`);
  }
  if (dim % 4 !== 0) throw new RangeError(`posembed: dim = ${dim} must be divisible by 4`);
  const quarter = dim / 4;
  const omega = Float64Array.from({ length: quarter }, (_, k) => 1 / 10000 ** (k / quarter));
  const table = new Float64Array(gridH * gridW * dim);
  for (let row = 0; row < gridH; row++) {
    for (let col = 0; col < gridW; col++) {
      const base = (row * gridW + col) * dim;
      for (let k = 0; k < quarter; k++) {
        table[base + k] = Math.sin(col * omega[k]);
        table[base + quarter + k] = Math.cos(col * omega[k]);
        table[base + 2 * quarter + k] = Math.sin(row * omega[k]);
        table[base + 3 * quarter + k] = Math.cos(row * omega[k]);
      }
    }
  }
  return table;
}

/**
 * tokens [batch, T, dim] + table[order[t]] (order = identity when omitted): the reference
 * of `shaders/posembed.wgsl`.
 */
export function addPositionalEmbeddingReference(
  tokens: ArrayLike<number>,
  table: ArrayLike<number>,
  batch: number,
  count: number,
  dim: number,
  order?: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(batch * count * dim);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < count; t++) {
      const src = order ? order[t] : t;
      for (let d = 0; d < dim; d++) {
        const i = (b * count + t) * dim + d;
        out[i] = tokens[i] + table[src * dim + d];
      }
    }
  }
  return out;
}
