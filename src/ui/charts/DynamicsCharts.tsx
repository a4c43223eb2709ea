/**
 * The training dynamics TensorBoard and W&B users look for beside the loss: the learning rate
 * (warm-up and cosine), the global gradient norm (the clip threshold drawn as a dashed line)
 * and the throughput in images per second — one line per run, on the same x axis as the loss.
 */
import { useMemo } from 'react';
import type { StepMetrics } from '../../training/trainer';
import { alignSeries, stepAxis, type XY } from './chartData';
import { useChartPrefs } from './chartPrefs';
import { LineChart, type ChartSeries } from './LineChart';
import { xAxisLabel } from './LossCharts';

export interface DynamicsRun {
  label: string;
  colour: string;
  metrics: readonly StepMetrics[];
  /** The run's gradient-clipping threshold (0 or absent: no clipping). */
  clipNorm?: number;
}

type Metric = 'lr' | 'gradNorm' | 'imgPerSec';

const CHARTS: readonly { metric: Metric; title: string; yLabel: string; empty: string }[] = [
  {
    metric: 'lr',
    title: 'Learning rate',
    yLabel: 'learning rate',
    empty: 'The schedule appears after the first step.',
  },
  {
    metric: 'gradNorm',
    title: 'Gradient norm',
    yLabel: 'gradient L2 norm',
    empty: 'The gradient norm appears after the first step.',
  },
  {
    metric: 'imgPerSec',
    title: 'Throughput',
    yLabel: 'images / s',
    empty: 'Images per second appear after the first step.',
  },
];

function yLabelOf(metric: Metric): string {
  return CHARTS.find((c) => c.metric === metric)!.yLabel;
}

function useDynamicsSeries(runs: readonly DynamicsRun[], metric: Metric) {
  const { xAxis } = useChartPrefs();
  return useMemo(() => {
    const lists: XY[] = [];
    const meta: Omit<ChartSeries, 'values'>[] = [];
    const single = runs.length === 1;
    for (const r of runs) {
      const { xs } = stepAxis(r.metrics, xAxis);
      lists.push({ x: xs, y: r.metrics.map((m) => m[metric]) });
      meta.push({ label: single ? yLabelOf(metric) : r.label, colour: r.colour, width: 1.5 });
    }
    if (metric === 'gradNorm') {
      // The clip threshold as a dashed line over the runs' extent: one line when every run
      // clipped at the same norm, else one per run in its colour.
      const clipped = runs.filter((r) => r.clipNorm && r.clipNorm > 0 && r.metrics.length);
      const norms = new Set(clipped.map((r) => r.clipNorm));
      const extent = (r: DynamicsRun) => stepAxis(r.metrics, xAxis).xs;
      if (norms.size === 1) {
        const ends = clipped.flatMap((r) => {
          const xs = extent(r);
          return [xs[0], xs[xs.length - 1]];
        });
        const lo = Math.min(...ends);
        const hi = Math.max(...ends);
        const norm = clipped[0].clipNorm!;
        lists.push({ x: lo === hi ? [lo] : [lo, hi], y: lo === hi ? [norm] : [norm, norm] });
        meta.push({ label: 'clip threshold', colour: '#7f7f7f', width: 1, dash: [6, 4] });
      } else
        for (const r of clipped) {
          const xs = extent(r);
          lists.push({ x: [xs[0], xs[xs.length - 1]], y: [r.clipNorm!, r.clipNorm!] });
          meta.push({
            label: `${r.label} · clip threshold`,
            colour: r.colour,
            width: 1,
            dash: [6, 4],
            alpha: 0.6,
          });
        }
    }
    const aligned = alignSeries(lists);
    return {
      x: aligned.x,
      series: meta.map((m, i) => ({ ...m, values: aligned.ys[i] })),
      xLabel: xAxisLabel(xAxis),
      integerX: xAxis === 'step',
    };
  }, [runs, metric, xAxis]);
}

function DynamicsChart({
  runs,
  chart,
  testId,
  exportName,
  caption,
}: {
  runs: readonly DynamicsRun[];
  chart: (typeof CHARTS)[number];
  testId: string;
  exportName: string;
  caption?: string;
}) {
  const { x, series, xLabel, integerX } = useDynamicsSeries(runs, chart.metric);
  return (
    <LineChart
      testId={testId}
      title={chart.title}
      xLabel={xLabel}
      yLabel={chart.yLabel}
      x={x}
      series={series}
      height={170}
      integerX={integerX}
      exportName={exportName}
      caption={caption}
      emptyText={chart.empty}
    />
  );
}

/** Learning rate, gradient norm and throughput, side by side (stacked on a phone). */
export function DynamicsCharts({
  runs,
  testIdPrefix,
  exportName,
  caption,
}: {
  runs: readonly DynamicsRun[];
  testIdPrefix: string;
  exportName: string;
  caption?: string;
}) {
  return (
    <div className="chart-grid dynamics-grid">
      {CHARTS.map((c) => (
        <DynamicsChart
          key={c.metric}
          runs={runs}
          chart={c}
          testId={`${testIdPrefix}-${c.metric}`}
          exportName={`${exportName}-${c.metric}`}
          caption={caption}
        />
      ))}
    </div>
  );
}
