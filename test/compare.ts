/** Shared comparisons for kernel tests: each returns a ratio, ≤ 1 meaning within tolerance. */

/**
 * max_i |got_i − want_i| / tol_i. `tol` is either a number (absolute) or a per-element
 * function; a NaN or a length mismatch gives Infinity so the test fails.
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
    if (Number.isNaN(err)) return Infinity;
    worst = Math.max(worst, err / t);
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
