/**
 * A loaded model's latency as a presenter quotes it: the first classification (which includes
 * compiling the shaders on WebGPU) apart from the steady state (the median of the later ones).
 */

export interface LatencySummary {
  /** The first run's latency, when it was a classification. */
  firstMs?: number;
  /** Median of the runs after the first; undefined until there is one. */
  steadyMs?: number;
  steadyRuns: number;
}

export function summarizeLatencies(log: readonly { run: number; ms: number }[]): LatencySummary {
  const firstMs = log.find((l) => l.run === 1)?.ms;
  const later = log
    .filter((l) => l.run > 1)
    .map((l) => l.ms)
    .sort((a, b) => a - b);
  const mid = later.length >> 1;
  const steadyMs =
    later.length === 0
      ? undefined
      : later.length % 2 === 1
        ? later[mid]
        : (later[mid - 1] + later[mid]) / 2;
  return { firstMs, steadyMs, steadyRuns: later.length };
}
