/**
 * A line chart drawn by uPlot, with the chart's own PNG and CSV export. The uPlot instance is
 * rebuilt only when the chart's shape changes (series, log axes, theme, height); new data goes
 * through setData, so a chart fed a few times a second stays cheap.
 *
 * For the tests and for screen readers the container carries what it shows: data-points (x
 * values), data-series (labels of the series that have at least one value) and an aria-label.
 */
import { useEffect, useLayoutEffect, useMemo, useRef } from 'react';
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
  /** Names the run(s) and settings under the title of the exported PNG. */
  caption?: string;
  /** x takes whole values (steps, chunks): no ticks at 1.5. Default true. */
  integerX?: boolean;
}

/** The exported PNG's plot size in CSS pixels (drawn at 2× for print and slides). */
const EXPORT_WIDTH = 960;
const EXPORT_HEIGHT = 480;
const EXPORT_SCALE = 2;

/** Four significant digits, without trailing noise; integers as they are. */
export function legendNumber(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

/** The last value a series has (what the legend shows while the cursor is off the plot). */
function lastValue(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v != null) return v;
  }
  return null;
}

const INTEGER_INCREMENTS = [
  1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6,
];

function positiveOrNull(values: readonly (number | null)[]): (number | null)[] {
  return values.map((v) => (v != null && v > 0 ? v : null));
}

interface OptionsInput {
  width: number;
  height: number;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  x: readonly number[];
  logX?: boolean;
  logY?: boolean;
  /** Scales fonts, line widths and axis sizes (the PNG export draws at 2×). */
  scale?: number;
  integerX?: boolean;
}

/** Tick labels with at most three significant digits (0.0005, not a rounded 0.001). */
function tickValues(_u: uPlot, splits: number[]): string[] {
  return splits.map((v) => (v == null ? '' : String(Number(v.toPrecision(3)))));
}

/**
 * uPlot options for the chart, on screen and for the PNG export alike. The legend shows each
 * series' value under the cursor and, while the cursor is off the plot, its last value (never
 * a row of '--').
 */
function chartOptions(o: OptionsInput): uPlot.Options {
  const k = o.scale ?? 1;
  const fg = cssColour('--muted', '#666');
  const grid = cssColour('--border', '#ddd');
  const font = `${Math.round(12 * k)}px system-ui, sans-serif`;
  const axis = (label: string, integer = false): uPlot.Axis => ({
    label,
    values: tickValues,
    // Steps and chunks are whole numbers: no ticks at 1.5.
    ...(integer ? { incrs: INTEGER_INCREMENTS } : {}),
    stroke: fg,
    font,
    labelFont: font,
    grid: { stroke: grid, width: k },
    ticks: { stroke: grid, width: k },
    labelSize: 20 * k,
    size: 50 * k,
    // Tick spacing in CSS pixels: scaled with everything else, so the PNG is not denser.
    space: (integer ? 50 : 40) * k,
  });
  const lastX = o.x.length ? o.x[o.x.length - 1] : null;
  return {
    width: o.width,
    height: o.height,
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    scales: {
      x: { time: false, distr: o.logX ? 3 : 1 },
      y: { distr: o.logY ? 3 : 1 },
    },
    axes: [axis(o.xLabel, !o.logX && o.integerX !== false), axis(o.yLabel)],
    series: [
      {
        label: o.xLabel,
        value: (_u, v, _s, idx) =>
          idx == null ? (lastX == null ? '' : `${legendNumber(lastX)} (last)`) : legendNumber(v),
      },
      ...o.series.map<uPlot.Series>((s) => {
        const last = lastValue(s.values);
        return {
          label: s.label,
          stroke: withAlpha(s.colour, s.alpha ?? 1),
          width: (s.width ?? 2) * k,
          dash: s.dash?.map((d) => d * k),
          spanGaps: true,
          points: { show: s.points ?? false, size: 5 * k, fill: s.colour },
          show: true,
          class: s.legend === false ? 'no-legend' : undefined,
          value: (_u, v, _s, idx) =>
            idx == null
              ? last == null
                ? '–'
                : legendNumber(last)
              : v == null || !Number.isFinite(v)
                ? '–'
                : legendNumber(v),
        };
      }),
    ],
  };
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

  // What forces a rebuild: everything about the series except their values. (The legend's
  // last values are read through `latest`, so new data needs no rebuild for them either.)
  const shape = JSON.stringify([
    series.map((s) => [s.label, s.colour, s.width, s.alpha, s.dash, s.points, s.legend]),
    logX,
    logY,
    theme,
    height,
    xLabel,
    yLabel,
    props.integerX,
  ]);
  const latest = useRef({ x, series });
  // Layout effects run before the effects below: the rebuild sees this render's series.
  useLayoutEffect(() => {
    latest.current = { x, series };
  });

  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const opts = chartOptions({
      width: Math.max(200, el.clientWidth),
      height,
      xLabel,
      yLabel,
      series: latest.current.series,
      x: latest.current.x,
      logX,
      logY,
      integerX: props.integerX,
    });
    // The legend's "last value" must follow new data without a rebuild.
    opts.series.forEach((s, i) => {
      const fixed = s.value as (u: uPlot, v: number, si: number, idx: number | null) => string;
      s.value = (u, v, si, idx) => {
        if (idx != null) return fixed(u, v, si, idx);
        const { x: xs, series: ss } = latest.current;
        if (i === 0) return xs.length ? `${legendNumber(xs[xs.length - 1])} (last)` : '';
        const last = lastValue(ss[i - 1]?.values ?? []);
        return last == null ? '–' : legendNumber(last);
      };
    });
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

  const exportPng = () =>
    renderPng({
      title,
      caption: props.caption,
      integerX: props.integerX,
      xLabel,
      yLabel,
      x,
      series: exportable,
      logX,
      logY,
      data,
    }).then((blob) => downloadBlob(`${fileSafe(exportName)}.png`, blob));

  const empty = x.length === 0;
  return (
    <figure className="chart" aria-label={`${title} chart`}>
      <figcaption className="chart-head">
        <span className="chart-title">{title}</span>
        <span className="chart-actions">
          <button
            type="button"
            className="small secondary"
            onClick={() => void exportPng()}
            disabled={empty}
          >
            PNG
          </button>
          <button type="button" className="small secondary" onClick={exportCsv} disabled={empty}>
            CSV
          </button>
        </span>
      </figcaption>
      {/* Empty: the plot keeps its place but draws no axes behind the placeholder. */}
      <div
        className={empty ? 'chart-plot chart-plot-empty' : 'chart-plot'}
        ref={holder}
        data-testid={testId}
        data-points={x.length}
        data-series={withValues.map((s) => s.label).join(',')}
        data-x-label={xLabel}
        data-caption={props.caption}
        aria-hidden={empty || undefined}
      />
      {empty && props.emptyText && <p className="chart-empty muted">{props.emptyText}</p>}
    </figure>
  );
}

/**
 * The chart as a PNG of a fixed size (960×480 plot at 2×, whatever the on-screen size): a
 * title, the caption naming the run and its settings, the plot, and a legend of every series.
 * Drawn by a second, off-screen uPlot so the page's chart is left as it is.
 */
async function renderPng(o: {
  title: string;
  caption?: string;
  xLabel: string;
  yLabel: string;
  x: readonly number[];
  series: readonly ChartSeries[];
  logX?: boolean;
  logY?: boolean;
  integerX?: boolean;
  data: uPlot.AlignedData;
}): Promise<Blob> {
  const k = EXPORT_SCALE;
  const host = document.createElement('div');
  host.style.cssText = 'position:fixed;left:-100000px;top:0;';
  document.body.appendChild(host);
  // uPlot draws at the page's device-pixel ratio; size it in CSS pixels so that its canvas is
  // EXPORT_WIDTH·k device pixels wide on every screen.
  const ratio = uPlot.pxRatio || 1;
  const opts = chartOptions({
    ...o,
    width: (EXPORT_WIDTH * k) / ratio,
    height: (EXPORT_HEIGHT * k) / ratio,
    scale: k / ratio,
  });
  opts.legend = { show: false };
  opts.cursor = { show: false };
  const u = new uPlot(opts, o.data, host);
  try {
    // uPlot sizes and draws in a microtask after construction: let it finish first.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const source = u.ctx.canvas;
    const legend = o.series.filter((s) => s.legend !== false);
    const perRow = 3;
    const legendRows = Math.ceil(legend.length / perRow);
    const pad = 16 * k;
    const titleH = 24 * k;
    const captionH = o.caption ? 20 * k : 0;
    const legendH = legendRows * 20 * k + (legendRows ? 8 * k : 0);
    const out = document.createElement('canvas');
    out.width = source.width + 2 * pad;
    out.height = source.height + titleH + captionH + legendH + 2 * pad;
    const g = out.getContext('2d')!;
    g.fillStyle = cssColour('--panel', '#fff');
    g.fillRect(0, 0, out.width, out.height);
    g.fillStyle = cssColour('--fg', '#000');
    g.textBaseline = 'top';
    g.font = `600 ${16 * k}px system-ui, sans-serif`;
    g.fillText(o.title, pad, pad);
    if (o.caption) {
      g.font = `${12 * k}px system-ui, sans-serif`;
      g.fillStyle = cssColour('--muted', '#555');
      g.fillText(o.caption, pad, pad + titleH, source.width);
    }
    g.drawImage(source, pad, pad + titleH + captionH);
    g.font = `${12 * k}px system-ui, sans-serif`;
    const colW = source.width / perRow;
    legend.forEach((s, i) => {
      const x0 = pad + (i % perRow) * colW;
      const y0 = pad + titleH + captionH + source.height + 8 * k + Math.floor(i / perRow) * 20 * k;
      g.fillStyle = s.colour;
      g.fillRect(x0, y0 + 4 * k, 16 * k, 4 * k);
      g.fillStyle = cssColour('--fg', '#000');
      g.fillText(s.label, x0 + 22 * k, y0, colW - 28 * k);
    });
    return await new Promise<Blob>((resolve, reject) =>
      out.toBlob(
        (b) => (b ? resolve(b) : reject(new Error('The PNG could not be drawn.'))),
        'image/png',
      ),
    );
  } finally {
    u.destroy();
    host.remove();
  }
}
