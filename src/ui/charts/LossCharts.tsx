/**
 * The loss charts every view shares: training loss (raw faint, de-biased EMA on top, validation
 * loss as points) for one run or several overlaid, and the per-chunk validation loss of
 * Figure 7 (x = chunk of the ordered sequence, one line per run or per evaluation).
 */
import { useId, useMemo } from 'react';
import type { EvalMetrics, StepMetrics } from '../../training/trainer';
import { debiasedEma } from '../smoothing';
import { alignSeries, stepAxis, type XY } from './chartData';
import { useChartPrefs } from './chartPrefs';
import { LineChart, type ChartSeries } from './LineChart';

export interface RunCurve {
  label: string;
  colour: string;
  metrics: readonly StepMetrics[];
  evals: readonly EvalMetrics[];
}

/** Smoothing slider and log-axis toggles (one set for all charts on the page). */
export function ChartControls() {
  const { smoothing, logX, logY, xAxis, set } = useChartPrefs();
  const id = useId();
  return (
    <div className="chart-controls">
      <label htmlFor={`${id}-x`}>x axis</label>
      <select
        id={`${id}-x`}
        value={xAxis}
        onChange={(e) => set({ xAxis: e.target.value === 'time' ? 'time' : 'step' })}
        data-testid="chart-x-axis"
      >
        <option value="step">step</option>
        <option value="time">training time (s)</option>
      </select>
      <label htmlFor={`${id}-smooth`}>Smoothing</label>
      <input
        id={`${id}-smooth`}
        type="range"
        min={0}
        max={0.99}
        step={0.01}
        value={smoothing}
        onChange={(e) => set({ smoothing: Number(e.target.value) })}
        data-testid="smoothing"
      />
      <output htmlFor={`${id}-smooth`}>{smoothing.toFixed(2)}</output>
      <label className="checkbox">
        <input type="checkbox" checked={logX} onChange={(e) => set({ logX: e.target.checked })} />
        log x
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={logY} onChange={(e) => set({ logY: e.target.checked })} />
        log y
      </label>
    </div>
  );
}

/** The x-axis label for the chosen axis. */
export function xAxisLabel(axis: 'step' | 'time'): string {
  return axis === 'time' ? 'training time (s)' : 'step';
}

export function LossChart({
  runs,
  testId,
  title = 'Loss',
  exportName,
  showVal = true,
  caption,
}: {
  runs: readonly RunCurve[];
  testId: string;
  title?: string;
  exportName: string;
  showVal?: boolean;
  caption?: string;
}) {
  const { smoothing, logX, logY, xAxis } = useChartPrefs();
  const { x, series } = useMemo(() => {
    const lists: XY[] = [];
    const meta: Omit<ChartSeries, 'values'>[] = [];
    const single = runs.length === 1;
    for (const r of runs) {
      const { xs, at } = stepAxis(r.metrics, xAxis);
      const raw = r.metrics.map((m) => m.trainLoss);
      // Several runs: one legend entry per run (its training curve); the line styles say the
      // rest (the note under the chart), so the legend never wraps into a wall of entries.
      const prefix = single ? '' : `${r.label} · `;
      if (smoothing > 0) {
        lists.push({ x: xs, y: raw });
        meta.push({
          label: `${prefix}train (raw)`,
          colour: r.colour,
          width: 1,
          alpha: 0.25,
          legend: single,
        });
        lists.push({ x: xs, y: debiasedEma(raw, smoothing) });
        meta.push({ label: single ? 'train (smoothed)' : r.label, colour: r.colour, width: 2 });
      } else {
        lists.push({ x: xs, y: raw });
        meta.push({ label: single ? 'train' : r.label, colour: r.colour, width: 1.5 });
      }
      if (showVal && r.evals.length) {
        lists.push({ x: r.evals.map((e) => at(e.step)), y: r.evals.map((e) => e.valLoss) });
        meta.push({
          label: `${prefix}validation`,
          colour: r.colour,
          width: 1,
          dash: [4, 4],
          points: true,
          legend: single,
        });
      }
    }
    const aligned = alignSeries(lists);
    return { x: aligned.x, series: meta.map((m, i) => ({ ...m, values: aligned.ys[i] })) };
  }, [runs, smoothing, showVal, xAxis]);
  return (
    <div className="chart-with-key">
      <LineChart
        testId={testId}
        title={title}
        xLabel={xAxisLabel(xAxis)}
        yLabel="loss (normalised-patch MSE)"
        x={x}
        series={series}
        logX={logX}
        logY={logY}
        exportName={exportName}
        caption={caption}
        integerX={xAxis === 'step'}
        emptyText="The loss appears here after the first step."
      />
      {runs.length > 1 && (
        <p className="muted small chart-key" data-testid={`${testId}-key`}>
          Solid: training loss{smoothing > 0 ? ' (smoothed; raw faint)' : ''}
          {showVal ? '; dashed with points: validation loss' : ''}.
        </p>
      )}
    </div>
  );
}

/** One line per (label, eval): x = chunk 1…C of the sequence in its ordering, y = val loss. */
export function ChunkLossChart({
  lines,
  testId,
  exportName,
  title = 'Validation loss per chunk of the sequence (Figure 7)',
  caption,
}: {
  lines: readonly {
    label: string;
    colour: string;
    chunkLoss: readonly number[];
    alpha?: number;
    width?: number;
    legend?: boolean;
  }[];
  testId: string;
  exportName: string;
  title?: string;
  caption?: string;
}) {
  const { x, series } = useMemo(() => {
    const chunks = Math.max(0, ...lines.map((l) => l.chunkLoss.length));
    const xs = Array.from({ length: chunks }, (_, i) => i + 1);
    return {
      x: xs,
      series: lines.map<ChartSeries>((l) => ({
        label: l.label,
        colour: l.colour,
        alpha: l.alpha,
        width: l.width ?? 2,
        points: l.legend !== false,
        legend: l.legend,
        values: xs.map((c) => {
          const v = l.chunkLoss[c - 1];
          return v !== undefined && Number.isFinite(v) ? v : null;
        }),
      })),
    };
  }, [lines]);
  return (
    <LineChart
      testId={testId}
      title={title}
      xLabel="chunk of the sequence"
      yLabel="validation loss"
      x={x}
      series={series}
      exportName={exportName}
      caption={caption}
      emptyText="Appears after the first evaluation."
    />
  );
}
