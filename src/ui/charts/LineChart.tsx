/**
 * A line chart drawn by uPlot, with the chart's own PNG and CSV export. The uPlot instance is
 * rebuilt only when the chart's shape changes (series, log axes, theme, height); new data goes
 * through setData, so a chart fed a few times a second stays cheap.
 *
 * For the tests and for screen readers the container carries what it shows: data-points (x
 * values), data-series (labels of the series that have at least one value) and an aria-label.
 */
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { downloadBlob, downloadText, fileSafe } from '../download';
import { cssColour, useTheme } from '../theme';
import { toCsv, withAlpha } from './chartData';

export interface ChartSeries {
  label: string;
  /** `#rrggbb`. */
  colour: string;
  values: readonly (number | null)[];
  width?: number;
  alpha?: number;
  dash?: number[];
  points?: boolean;
  /** false: left out of the CSV and the PNG's legend. */
  exportable?: boolean;
  /** Left out of the on-screen legend (a faint raw curve under its smoothed twin). */
  legend?: boolean;
}

export interface LineChartProps {
  testId: string;
  title: string;
  xLabel: string;
  yLabel: string;
  x: readonly number[];
  series: readonly ChartSeries[];
  logX?: boolean;
  logY?: boolean;
  height?: number;
  /** File name stem for PNG/CSV. */
  exportName: string;
  /** Shown over an empty plot. */
  emptyText?: string;
}

const INTEGER_INCREMENTS = [
  1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6,
];

function positiveOrNull(values: readonly (number | null)[]): (number | null)[] {
  return values.map((v) => (v != null && v > 0 ? v : null));
}

export function LineChart(props: LineChartProps) {
  const { testId, title, xLabel, yLabel, x, series, logX, logY, height = 240, exportName } = props;
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useTheme((s) => s.resolved);

  const data = useMemo<uPlot.AlignedData>(() => {
    const xs = logX ? x.map((v) => (v > 0 ? v : null)) : x;
    return [
      xs as number[],
      ...series.map((s) => (logY ? positiveOrNull(s.values) : (s.values as (number | null)[]))),
    ];
  }, [x, series, logX, logY]);

  // What forces a rebuild: everything about the series except their values.
  const shape = JSON.stringify([
    series.map((s) => [s.label, s.colour, s.width, s.alpha, s.dash, s.points, s.legend]),
    logX,
    logY,
    theme,
    height,
    xLabel,
    yLabel,
  ]);

  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const fg = cssColour('--muted', '#666');
    const grid = cssColour('--border', '#ddd');
    const axis = (label: string, integer = false): uPlot.Axis => ({
      label,
      // Steps and chunks are whole numbers: no ticks at 1.5.
      ...(integer ? { incrs: INTEGER_INCREMENTS } : {}),
      stroke: fg,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      labelSize: 20,
      size: 50,
    });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      scales: {
        x: { time: false, distr: logX ? 3 : 1 },
        y: { distr: logY ? 3 : 1 },
      },
      axes: [axis(xLabel, !logX), axis(yLabel)],
      series: [
        { label: xLabel },
        ...series.map((s) => ({
          label: s.label,
          stroke: withAlpha(s.colour, s.alpha ?? 1),
          width: s.width ?? 2,
          dash: s.dash,
          spanGaps: true,
          points: { show: s.points ?? false, size: 5, fill: s.colour },
          show: true,
          class: s.legend === false ? 'no-legend' : undefined,
        })),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const observer = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
    // `data` is applied by the effect below; rebuilding only on shape changes is the point.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  const exportable = series.filter((s) => s.exportable !== false);
  const withValues = exportable.filter((s) => s.values.some((v) => v != null));

  const exportCsv = () =>
    downloadText(
      `${fileSafe(exportName)}.csv`,
      toCsv(
        xLabel,
        x,
        exportable.map((s) => ({ label: s.label, values: s.values })),
      ),
      'text/csv',
    );

  const exportPng = () => {
    const u = plot.current;
    if (!u) return;
    const source = u.ctx.canvas;
    const ratio = source.width / u.width;
    const legend = exportable.filter((s) => s.legend !== false);
    const legendRows = Math.ceil(legend.length / 3);
    const pad = 12 * ratio;
    const titleH = 24 * ratio;
    const legendH = legendRows * 20 * ratio;
    const out = document.createElement('canvas');
    out.width = source.width + 2 * pad;
    out.height = source.height + titleH + legendH + 2 * pad;
    const g = out.getContext('2d')!;
    g.fillStyle = cssColour('--panel', '#fff');
    g.fillRect(0, 0, out.width, out.height);
    g.fillStyle = cssColour('--fg', '#000');
    g.font = `${14 * ratio}px system-ui, sans-serif`;
    g.textBaseline = 'top';
    g.fillText(title, pad, pad);
    g.drawImage(source, pad, pad + titleH);
    g.font = `${12 * ratio}px system-ui, sans-serif`;
    legend.forEach((s, i) => {
      const col = i % 3;
      const row = Math.floor(i / 3);
      const x0 = pad + (col * source.width) / 3;
      const y0 = pad + titleH + source.height + row * 20 * ratio + 4 * ratio;
      g.fillStyle = s.colour;
      g.fillRect(x0, y0 + 3 * ratio, 14 * ratio, 4 * ratio);
      g.fillStyle = cssColour('--fg', '#000');
      g.fillText(s.label, x0 + 20 * ratio, y0);
    });
    out.toBlob((blob) => blob && downloadBlob(`${fileSafe(exportName)}.png`, blob), 'image/png');
  };

  const empty = x.length === 0;
  return (
    <figure className="chart" aria-label={`${title} chart`}>
      <figcaption className="chart-head">
        <span className="chart-title">{title}</span>
        <span className="chart-actions">
          <button type="button" className="small secondary" onClick={exportPng} disabled={empty}>
            PNG
          </button>
          <button type="button" className="small secondary" onClick={exportCsv} disabled={empty}>
            CSV
          </button>
        </span>
      </figcaption>
      <div
        className="chart-plot"
        ref={holder}
        data-testid={testId}
        data-points={x.length}
        data-series={withValues.map((s) => s.label).join(',')}
      />
      {empty && props.emptyText && <p className="chart-empty muted">{props.emptyText}</p>}
    </figure>
  );
}
