/**
 * Loss beside accuracy (the paper's Figure 4) as data: what a run records each time it probes
 * its trunk, and how the page keeps, trims and summarises those records. Plain data and pure
 * functions only (no GPU code), so that the page's stores and charts can use them without
 * pulling the probes' kernels into the page's bundle; the probing itself is figure4Probe.ts.
 */

/** One probe evaluation during a run: the validation loss and both probes' top-1 at `step`. */
export interface ProbePoint {
  step: number;
  /** Validation loss of the same parameters (the evaluation of that step). */
  valLoss: number;
  /** Held-out top-1 (%) of the linear probe (BatchNorm + Linear on mean-pooled features). */
  linear: number;
  /** Held-out top-1 (%) of ml-aim's attentive probe. */
  attentive: number;
  /** Top-1 (%) of each probe on its own training images (how well it fitted). */
  linearTrain: number;
  attentiveTrain: number;
  /** Labelled images the probes trained on and were tested on. */
  trainImages: number;
  heldOutImages: number;
  /** The last L trunk blocks averaged into the features. */
  layers: number;
  /** Epochs of the probes' training. */
  epochs: number;
  /** Wall-clock seconds the probes took (training waited this long). */
  seconds: number;
}

/**
 * `points` with `point` recorded: one point per step (a step probed again, after a resume
 * from an earlier checkpoint, replaces the old one), in step order.
 */
export function withProbePoint(
  points: readonly ProbePoint[] | undefined,
  point: ProbePoint,
): ProbePoint[] {
  return [...(points ?? []).filter((p) => p.step !== point.step), point].sort(
    (a, b) => a.step - b.step,
  );
}

/** The points up to `step`: a run resumed from the checkpoint of `step` recomputes the later ones. */
export function probesUpTo(
  points: readonly ProbePoint[] | undefined,
  step: number,
): ProbePoint[] | undefined {
  return points?.filter((p) => p.step <= step);
}

/** Whether `v` is a usable probe point (an imported file may hold anything). */
export function isProbePoint(v: unknown): v is ProbePoint {
  const p = v as Partial<Record<keyof ProbePoint, unknown>> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    (['step', 'valLoss', 'linear', 'attentive'] as const).every(
      (k) => typeof p[k] === 'number' && Number.isFinite(p[k]),
    )
  );
}

/** A run as the cross-run scatter reads it. */
export interface ProbedRun {
  id: string;
  name: string;
  colour: string;
  probes?: readonly ProbePoint[];
}

/** One run's point on the scatter: its last probe evaluation. */
export interface ScatterPoint {
  runId: string;
  name: string;
  colour: string;
  step: number;
  valLoss: number;
  linear: number;
  attentive: number;
}

/**
 * One point per run that has probed: its final (latest) probe evaluation, whose validation
 * loss and top-1 come from the same parameters. Runs that never probed are left out.
 */
export function scatterPoints(runs: readonly ProbedRun[]): ScatterPoint[] {
  const out: ScatterPoint[] = [];
  for (const r of runs) {
    const last = r.probes?.filter(isProbePoint).at(-1);
    if (!last) continue;
    out.push({
      runId: r.id,
      name: r.name,
      colour: r.colour,
      step: last.step,
      valLoss: last.valLoss,
      linear: last.linear,
      attentive: last.attentive,
    });
  }
  return out;
}

/**
 * Pearson's correlation of `xs` and `ys` (equal lengths); undefined for fewer than three
 * pairs or when either has no spread — too few runs to say anything.
 */
export function pearson(xs: readonly number[], ys: readonly number[]): number | undefined {
  const n = xs.length;
  if (n < 3 || ys.length !== n) return undefined;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  if (sxx === 0 || syy === 0) return undefined;
  return sxy / Math.sqrt(sxx * syy);
}
