/** Small helpers shared by the benchmark implementations: statistics, units, output, checks. */
import { gammaF32 } from '../src/reference/matmul';

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** TFLOP/s of an M×N×K matmul (2·M·N·K flops) that took `ms` milliseconds. */
export function tflops(m: number, n: number, k: number, ms: number): number {
  return (2 * m * n * k) / (ms * 1e-3) / 1e12;
}

/** Rounds to `digits` significant digits (keeps the JSON readable). */
export function sig(value: number, digits = 4): number {
  return Number.isFinite(value) && value !== 0 ? Number(value.toPrecision(digits)) : value;
}

/** One JSON object per line on stdout; everything else (notes, warnings) goes to stderr. */
export function emit(record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/** A few output positions spread over C (corners, middle) to check against a float64 dot product. */
export function samplePositions(m: number, n: number): Array<[number, number]> {
  const raw: Array<[number, number]> = [
    [0, 0],
    [m - 1, n - 1],
    [m >> 1, Math.floor(n / 3)],
    [Math.floor(m / 3), n - 1],
  ];
  const seen = new Set<string>();
  return raw.filter(([i, j]) => {
    const key = `${i},${j}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface SampleCheck {
  samples: number;
  /** Largest |got − want| / (γ_K·Σ|a||b|): ≤ 1 is within the f32 forward error bound. */
  worstBoundRatio: number;
  ok: boolean;
}

/** Checks sampled elements of C = A·B (row-major A [m,k], B [k,n]) against float64 dot products. */
export function checkSamples(
  a: Float32Array,
  b: Float32Array,
  n: number,
  k: number,
  positions: ReadonlyArray<[number, number]>,
  got: ArrayLike<number>,
): SampleCheck {
  const gamma = gammaF32(k);
  let worst = 0;
  positions.forEach(([i, j], s) => {
    let want = 0;
    let absDot = 0;
    for (let p = 0; p < k; p++) {
      const prod = a[i * k + p] * b[p * n + j];
      want += prod;
      absDot += Math.abs(prod);
    }
    worst = Math.max(worst, Math.abs(got[s] - want) / (gamma * absDot + 1e-30));
  });
  return { samples: positions.length, worstBoundRatio: sig(worst, 3), ok: worst <= 1 };
}

/**
 * max_i |got_i − want_i| / tol(i) (≤ 1: within tolerance); a NaN or a length mismatch gives
 * Infinity, so a broken kernel can never pass.
 */
export function worstRatio(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: (i: number) => number,
): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / tol(i);
    if (Number.isNaN(err)) return Infinity;
    worst = Math.max(worst, err);
  }
  return worst;
}
