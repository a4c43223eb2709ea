/**
 * What the kernel self-test asks and answers, apart from the code that runs it: the page
 * imports these without pulling the kernels and the float64 references into its bundle.
 */
export interface MatmulCheckRequest {
  m: number;
  n: number;
  k: number;
  seed: number;
}

export interface MatmulCheckResult extends MatmulCheckRequest {
  /** max |ĉ − c| / (γ_K Σ|a||b|): ≤ 1 means within the f32 forward error bound. */
  worstBoundRatio: number;
  maxAbsError: number;
  ms: number;
  pass: boolean;
}

/** Shapes the self-test checks: awkward on purpose (not tile multiples, 1×1×1, long K). */
export const SELF_TEST_SHAPES: readonly MatmulCheckRequest[] = [
  { m: 1, n: 1, k: 1, seed: 11 },
  { m: 17, n: 33, k: 65, seed: 12 },
  { m: 65, n: 63, k: 17, seed: 13 },
  { m: 8, n: 9, k: 2053, seed: 14 },
];
