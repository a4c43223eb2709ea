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
    yLabel: 'global L2 norm of the gradient',
    empty: 'The gradient norm appears after the first step.',
  },
  {
    metric: 'imgPerSec',
    title: 'Throughput',
    yLabel: 'images / s',
    empty: 'Images per second appear after the first step.',
  },
];

function useDynamicsSeries(runs: readonly DynamicsRun[], metric: Metric) {
  const { xAxis } = useChartPrefs();
  return useMemo(() => {
    const lists: XY[] = [];
    const meta: Omit<ChartSeries, 'values'>[] = [];
    const single = runs.length === 1;
    for (const r of runs) {
      const { xs } = stepAxis(r.metrics, xAxis);
      lists.push({ x: xs, y: r.metrics.map((m) => m[metric]) });
      meta.push({
        label: single ? CHARTS.find((c) => c.metric === metric)!.yLabel : r.label,
        colour: r.colour,
        width: 1.5,
      });
      if (metric === 'gradNorm' && r.clipNorm && r.clipNorm > 0 && xs.length) {
        // The threshold as a line at both ends of the run (what clipping scales down to).
        lists.push({ x: [xs[0], xs[xs.length - 1]], y: [r.clipNorm, r.clipNorm] });
        meta.push({
          label: `${single ? '' : `${r.label} · `}clip threshold`,
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
  const { x, series, xLabel } = useDynamicsSeries(runs, chart.metric);
  return (
    <LineChart
      testId={testId}
      title={chart.title}
      xLabel={xLabel}
      yLabel={chart.yLabel}
      x={x}
      series={series}
      height={170}
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
