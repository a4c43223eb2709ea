/**
 * Chart data as columns: one shared x and one array of y per series (null where a series has
 * no value at that x), which is what uPlot draws and what the CSV export writes.
 */

export interface XY {
  x: readonly number[];
  y: readonly number[];
}

/** Puts several (x, y) lists on the union of their x values; missing points are null. */
export function alignSeries(lists: readonly XY[]): { x: number[]; ys: (number | null)[][] } {
  const xs = [...new Set(lists.flatMap((l) => l.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lists.map((l) => {
    const col = new Array<number | null>(xs.length).fill(null);
    l.x.forEach((x, i) => {
      const y = l.y[i];
      col[index.get(x)!] = Number.isFinite(y) ? y : null;
    });
    return col;
  });
  return { x: xs, ys };
}

/**
 * Seconds of training at the end of each step: the running sum of the steps' own durations,
 * so pauses, reloads and resumes do not stretch the axis (a resumed run continues its sum).
 */
export function trainingSeconds(metrics: readonly { step: number; stepMs: number }[]): number[] {
  let total = 0;
  return metrics.map((m) => (total += (Number.isFinite(m.stepMs) ? m.stepMs : 0) / 1000));
}

/**
 * The x of each step and of any later step (an evaluation's): the step itself, or the training
 * time at the last step at or before it (0 before the first).
 */
export function stepAxis(
  metrics: readonly { step: number; stepMs: number }[],
  axis: 'step' | 'time',
): { xs: number[]; at: (step: number) => number } {
  if (axis === 'step') return { xs: metrics.map((m) => m.step), at: (s) => s };
  const seconds = trainingSeconds(metrics);
  const at = (step: number) => {
    let lo = 0;
    let hi = metrics.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (metrics[mid].step <= step) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : seconds[found];
  };
  return { xs: seconds, at };
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV with a header row: x label, then one column per series; empty cells for missing values. */
export function toCsv(
  xLabel: string,
  x: readonly number[],
  series: readonly { label: string; values: readonly (number | null)[] }[],
): string {
  const header = [xLabel, ...series.map((s) => s.label)].map(csvField).join(',');
  const rows = x.map((xv, i) =>
    [String(xv), ...series.map((s) => (s.values[i] == null ? '' : String(s.values[i])))].join(','),
  );
  return `${[header, ...rows].join('\n')}\n`;
}

/** `#rrggbb` with an alpha, as an rgba() string. */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return hex;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Colour-blind-safe fixed colours (Okabe–Ito), one per ordering and for run overlays. */
export const ORDERING_COLOURS = {
  raster: '#0072b2',
  spiral: '#e69f00',
  checkerboard: '#009e73',
  random: '#cc79a7',
} as const;

export const RUN_PALETTE = [
  '#0072b2',
  '#e69f00',
  '#009e73',
  '#cc79a7',
  '#d55e00',
  '#56b4e9',
  '#7f7f7f',
  '#8c564b',
] as const;
