/**
 * Loss against accuracy across runs (the paper's Figure 4, one point per run): each run that
 * probed its trunk is drawn at its final probe evaluation — validation loss across, held-out
 * top-1 up — once for the linear probe (circle) and once for the attentive probe (triangle),
 * in the run's colour. Hovering or focusing a marker names the run; the list under the plot
 * links each run to its row in the Runs tab. PNG (with a caption naming the runs) and CSV.
 *
 * An SVG of its own rather than uPlot: uPlot draws series over one shared x, a scatter has an
 * x per point. The PNG is the same SVG drawn onto a canvas at 2×.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import {
  pearson,
  scatterPoints,
  type ProbedRun,
  type ScatterPoint,
} from '../../paper/figure4Points';
import { downloadBlob, downloadText, fileSafe } from '../download';
import { RunLink } from '../RunLink';
import { cssColour, useTheme } from '../theme';
import { legendNumber } from './LineChart';

type Kind = 'linear' | 'attentive';

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
const KINDS: readonly Kind[] = ['linear', 'attentive'];
const HEIGHT = 280;
const MARGIN = { left: 52, right: 14, top: 12, bottom: 40 };

/** About five round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** [lo, hi] of `values`, widened by a margin (and to a span of at least `minSpan`). */
function paddedRange(values: readonly number[], minSpan: number): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < minSpan) {
    const mid = (lo + hi) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

function marker(kind: Kind, x: number, y: number, r: number): string {
  if (kind === 'linear')
    return `M ${x - r} ${y} a ${r} ${r} 0 1 0 ${2 * r} 0 a ${r} ${r} 0 1 0 ${-2 * r} 0`;
  const h = r * 1.25;
  return `M ${x} ${y - h} L ${x + h} ${y + h * 0.75} L ${x - h} ${y + h * 0.75} Z`;
}

interface Layout {
  width: number;
  xs: [number, number];
  ys: [number, number];
  px: (v: number) => number;
  py: (v: number) => number;
}

function layout(points: readonly ScatterPoint[], width: number): Layout {
  const xs = paddedRange(
    points.map((p) => p.valLoss),
    0.01,
  );
  const ys = paddedRange(
    points.flatMap((p) => [p.linear, p.attentive]),
    5,
  );
  const w = width - MARGIN.left - MARGIN.right;
  const h = HEIGHT - MARGIN.top - MARGIN.bottom;
  return {
    width,
    xs,
    ys,
    px: (v) => MARGIN.left + ((v - xs[0]) / (xs[1] - xs[0])) * w,
    py: (v) => MARGIN.top + (1 - (v - ys[0]) / (ys[1] - ys[0])) * h,
  };
}

function Plot({
  points,
  l,
  onHover,
  svgRef,
}: {
  points: readonly ScatterPoint[];
  l: Layout;
  onHover?: (p: { point: ScatterPoint; kind: Kind } | undefined) => void;
  svgRef?: React.Ref<SVGSVGElement>;
}) {
  const fg = cssColour('--fg', '#222');
  const muted = cssColour('--muted', '#666');
  const grid = cssColour('--border', '#ddd');
  const bottom = HEIGHT - MARGIN.bottom;
  return (
    <svg
      ref={svgRef}
      xmlns="http://www.w3.org/2000/svg"
      width={l.width}
      height={HEIGHT}
      viewBox={`0 0 ${l.width} ${HEIGHT}`}
      fontFamily="system-ui, sans-serif"
      fontSize={12}
      role="img"
      aria-label="Final validation loss against probe top-1, one point per run"
    >
      {niceTicks(l.xs[0], l.xs[1]).map((v) => (
        <g key={`x${v}`}>
          <line x1={l.px(v)} x2={l.px(v)} y1={MARGIN.top} y2={bottom} stroke={grid} />
          <text x={l.px(v)} y={bottom + 14} textAnchor="middle" fill={muted}>
            {legendNumber(v)}
          </text>
        </g>
      ))}
      {niceTicks(l.ys[0], l.ys[1]).map((v) => (
        <g key={`y${v}`}>
          <line
            x1={MARGIN.left}
            x2={l.width - MARGIN.right}
            y1={l.py(v)}
            y2={l.py(v)}
            stroke={grid}
          />
          <text x={MARGIN.left - 6} y={l.py(v) + 4} textAnchor="end" fill={muted}>
            {legendNumber(v)}
          </text>
        </g>
      ))}
      <text
        x={(MARGIN.left + l.width - MARGIN.right) / 2}
        y={HEIGHT - 6}
        textAnchor="middle"
        fill={fg}
      >
        final validation loss
      </text>
      <text
        transform={`translate(13 ${(MARGIN.top + bottom) / 2}) rotate(-90)`}
        textAnchor="middle"
        fill={fg}
      >
        probe top-1 (%)
      </text>
      {points.map((p) =>
        KINDS.map((kind) => (
          <path
            key={`${p.runId}-${kind}`}
            d={marker(kind, l.px(p.valLoss), l.py(p[kind]), 5)}
            fill={kind === 'linear' ? p.colour : 'none'}
            stroke={p.colour}
            strokeWidth={2}
            pointerEvents="all"
            tabIndex={onHover ? 0 : undefined}
            data-run-id={p.runId}
            data-kind={kind}
            onMouseEnter={() => onHover?.({ point: p, kind })}
            onFocus={() => onHover?.({ point: p, kind })}
            onMouseLeave={() => onHover?.(undefined)}
            onBlur={() => onHover?.(undefined)}
          >
            <title>{`${p.name}: ${kind} probe ${p[kind].toFixed(1)} %, validation loss ${legendNumber(p.valLoss)} (step ${p.step})`}</title>
          </path>
        )),
      )}
    </svg>
  );
}

/** The SVG onto a 2× canvas with a title, the caption and a key of the two markers. */
async function renderPng(svg: SVGSVGElement, caption: string): Promise<Blob> {
  const k = 2;
  const source = new XMLSerializer().serializeToString(svg);
  const image = new Image();
  const url = URL.createObjectURL(new Blob([source], { type: 'image/svg+xml' }));
  try {
    image.src = url;
    await image.decode();
  } finally {
    URL.revokeObjectURL(url);
  }
  const pad = 16;
  const head = 46;
  const key = 24;
  const w = svg.width.baseVal.value;
  const h = svg.height.baseVal.value;
  const out = document.createElement('canvas');
  out.width = (w + 2 * pad) * k;
  out.height = (h + head + key + 2 * pad) * k;
  const g = out.getContext('2d')!;
  g.scale(k, k);
  g.fillStyle = cssColour('--panel', '#fff');
  g.fillRect(0, 0, out.width, out.height);
  g.fillStyle = cssColour('--fg', '#000');
  g.textBaseline = 'top';
  g.font = '600 16px system-ui, sans-serif';
  g.fillText('Final validation loss against probe top-1', pad, pad);
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = cssColour('--muted', '#555');
  g.fillText(caption, pad, pad + 24, w);
  g.drawImage(image, pad, pad + head, w, h);
  g.fillStyle = cssColour('--fg', '#000');
  g.fillText('● linear probe    △ attentive probe    (colour: run)', pad, pad + head + h + 6);
  return new Promise<Blob>((resolve, reject) =>
    out.toBlob(
      (b) => (b ? resolve(b) : reject(new Error('The PNG could not be drawn.'))),
      'image/png',
    ),
  );
}

export function ProbeScatter({ runs, testId }: { runs: readonly ProbedRun[]; testId: string }) {
  const points = useMemo(() => scatterPoints(runs), [runs]);
  const holder = useRef<HTMLDivElement>(null);
  const svg = useRef<SVGSVGElement>(null);
  const [width, setWidth] = useState(480);
  const [hover, setHover] = useState<{ point: ScatterPoint; kind: Kind }>();
  useTheme((s) => s.resolved); // redraw in the theme's colours
  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(240, Math.floor(el.clientWidth)));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const l = useMemo(() => (points.length ? layout(points, width) : undefined), [points, width]);
  const caption = `${points.length} run${points.length === 1 ? '' : 's'}: ${points.map((p) => p.name).join(', ')}`;
  const r = (kind: Kind) =>
    pearson(
      points.map((p) => p.valLoss),
      points.map((p) => p[kind]),
    );
  const exportCsv = () =>
    downloadText(
      'runs-loss-vs-probe-top1.csv',
      [
        'run,id,step,valLoss,linear,attentive',
        ...points.map((p) =>
          [csvField(p.name), csvField(p.runId), p.step, p.valLoss, p.linear, p.attentive].join(','),
        ),
      ].join('\n') + '\n',
      'text/csv',
    );
  const exportPng = () => {
    if (svg.current)
      void renderPng(svg.current, caption).then((b) =>
        downloadBlob(`${fileSafe('runs-loss-vs-probe-top1')}.png`, b),
      );
  };
  return (
    <figure className="chart" aria-label="Loss against probe accuracy chart">
      <figcaption className="chart-head">
        <span className="chart-title">Final validation loss against probe top-1</span>
        <span className="chart-actions">
          <button type="button" className="small secondary" onClick={exportPng} disabled={!l}>
            PNG
          </button>
          <button type="button" className="small secondary" onClick={exportCsv} disabled={!l}>
            CSV
          </button>
        </span>
      </figcaption>
      <div ref={holder} data-testid={testId} data-points={points.length} data-caption={caption}>
        {l ? (
          <Plot points={points} l={l} onHover={setHover} svgRef={svg} />
        ) : (
          <p className="muted">
            No run has probe results yet: set “Probe every” (More settings) above 0 and train, or
            import runs that probed.
          </p>
        )}
      </div>
      {l && (
        <>
          <p className="muted small chart-key" data-testid={`${testId}-hover`} aria-live="polite">
            {hover
              ? `${hover.point.name}: ${hover.kind} probe ${hover.point[hover.kind].toFixed(1)} %, validation loss ${legendNumber(hover.point.valLoss)} at step ${hover.point.step}`
              : '● filled circle: linear probe · △ open triangle: attentive probe · colour: the run. Point at a marker for its run.'}
          </p>
          <p className="muted small chart-key">
            {KINDS.map((kind) => {
              const v = r(kind);
              return v === undefined
                ? `${kind}: correlation needs three runs or more`
                : `${kind}: Pearson r = ${v.toFixed(2)} over ${points.length} runs`;
            }).join(' · ')}{' '}
            (the paper: lower loss, higher accuracy — a negative r).
          </p>
          <ul className="scatter-runs small" data-testid={`${testId}-runs`}>
            {points.map((p) => (
              <li key={p.runId}>
                <span style={{ color: p.colour }} aria-hidden="true">
                  ●
                </span>{' '}
                <RunLink runId={p.runId} testId="scatter-run-link">
                  {p.name}
                </RunLink>{' '}
                <span className="muted">
                  loss {legendNumber(p.valLoss)}, linear {p.linear.toFixed(1)} %, attentive{' '}
                  {p.attentive.toFixed(1)} % (step {p.step})
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </figure>
  );
}
