/**
 * Float64 reference for `shaders/gather_rows.wgsl`: out[m, :] = src[index[m], :] (or +=),
 * zeros (or unchanged) where index[m] is NO_ROW, NaN where it is out of range.
 */

/** The index entry that marks a row with no source. */
export const NO_ROW = 0xffffffff;

export function gatherRowsReference(
  src: ArrayLike<number>,
  index: ArrayLike<number>,
  dim: number,
  opts: { accumulateInto?: ArrayLike<number> } = {},
): Float64Array {
  const srcRows = src.length / dim;
  const out = new Float64Array(index.length * dim);
  for (let m = 0; m < index.length; m++) {
    const row = index[m];
    for (let d = 0; d < dim; d++) {
      let value = 0;
      if (row !== NO_ROW) value = row < srcRows ? src[row * dim + d] : NaN;
      out[m * dim + d] = (opts.accumulateInto?.[m * dim + d] ?? 0) + value;
    }
  }
  return out;
}
