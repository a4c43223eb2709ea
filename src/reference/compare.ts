/**
 * Comparisons against float64 references, each a ratio (≤ 1 meaning within tolerance): the
 * Node tests and the browser kernel cases (src/diagnostics/kernelCases.ts) grade with these.
 */

/**
 * max_i |got_i − want_i| / tol_i. `tol` is either a number (absolute) or a per-element
 * function; a NaN (in the data or the ratio) or a length mismatch gives Infinity so the test fails.
 */
export function worstRatio(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number | ((i: number) => number),
): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const t = typeof tol === 'number' ? tol : tol(i);
    const err = Math.abs(got[i] - want[i]);
    const ratio = err / t;
    if (Number.isNaN(ratio)) return Infinity;
    worst = Math.max(worst, ratio);
  }
  return worst;
}

/** The tolerance |got − want| ≤ atol + rtol·|want| as a per-element function. */
export function mixedTolerance(
  want: ArrayLike<number>,
  atol: number,
  rtol: number,
): (i: number) => number {
  return (i) => atol + rtol * Math.abs(want[i]);
}
