/** Float64 references for `shaders/elementwise.wgsl` and `shaders/column_sum.wgsl`. */

export function addReference(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]);
}

/** target + alpha·x (the kernel's y += alpha·x). */
export function accumulateReference(
  target: ArrayLike<number>,
  x: ArrayLike<number>,
  alpha = 1,
): Float64Array {
  return Float64Array.from(target, (v, i) => v + alpha * x[i]);
}

export function scaleReference(x: ArrayLike<number>, alpha: number): Float64Array {
  return Float64Array.from(x, (v) => alpha * v);
}

/** Σ_r x[r, n] for a row-major [rows, cols] matrix: the bias gradient of a Linear. */
export function columnSumReference(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (x.length !== rows * cols)
    throw new RangeError(`columnSum: ${x.length} values for [${rows}, ${cols}]`);
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += x[r * cols + c];
  return out;
}

/** Σ_r |x[r, n]|: the scale of the rounding error of any f32 summation order of a column. */
export function columnAbsSumReference(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
): Float64Array {
  return columnSumReference(Float64Array.from(x as ArrayLike<number>, Math.abs), rows, cols);
}
