/**
 * The second engine beside onnxruntime-web: on request, every classified image also runs on
 * this project's own WGSL kernels from the same weights (the ONNX file's initializers), and
 * this panel shows both engines' top-5, the largest |difference| of their logits (or of their
 * features, for a model without a probe), each engine's latency on this adapter (first run
 * apart from the steady state), and the probe's attention over the image.
 */
import { useEffect } from 'react';
import { formatBytes } from '../../util/format';
import './EnginePanel.css';
import { ErrorNotice } from '../ErrorNotice';
import { useInference } from '../inferenceStore';
import { summarizeLatencies, type LatencySummary } from './latencySummary';
import { ProbeAttention } from './ProbeAttention';

const ms = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(1)} ms`);

function LatencyLine({ summary, testId }: { summary: LatencySummary; testId: string }) {
  return (
    <p className="small" data-testid={testId}>
      first run {ms(summary.firstMs)} · steady {ms(summary.steadyMs)}
      {summary.steadyRuns > 0 && <span className="muted"> (median of {summary.steadyRuns})</span>}
    </p>
  );
}

type Top = { index: number; name: string; probability: number }[] | undefined;

function TopList({ top, testId }: { top: Top; testId: string }) {
  if (!top) return <p className="muted small">no classes (no probe, no k-NN probe yet)</p>;
  return (
    <ol className="top-classes" data-testid={testId}>
      {top.map((t) => (
        <li key={t.index} data-class-index={t.index}>
          <span className="class-name">{t.name}</span>
          <meter min={0} max={1} value={t.probability} />
          <span className="probability">{(100 * t.probability).toFixed(1)} %</span>
        </li>
      ))}
    </ol>
  );
}

export function EnginePanel() {
  const loaded = useInference((s) => s.loaded);
  const on = useInference((s) => s.secondEngine);
  const setOn = useInference((s) => s.setSecondEngine);
  const busy = useInference((s) => s.engineBusy);
  const comparison = useInference((s) => s.comparison);
  const error = useInference((s) => s.engineError);
  const onnxLatencies = useInference((s) => s.latencies);
  const wgslLatencies = useInference((s) => s.wgslLatencies);
  const adapter = useInference((s) => s.env?.adapter);
  const plan = useInference((s) => s.enginePlan);
  const planEngine = useInference((s) => s.planEngine);
  useEffect(() => {
    if (loaded) void planEngine();
  }, [loaded, planEngine]);
  if (!loaded) return null;
  const planned = plan?.modelId === loaded.id ? plan : undefined;
  const c = comparison;
  const sameTop1 =
    c?.wgsl?.top && c.onnx.top ? c.wgsl.top[0]?.index === c.onnx.top[0]?.index : undefined;

  return (
    <section className="panel" aria-labelledby="engine-title" data-testid="engine-panel">
      <h3 id="engine-title">Second engine: our own WGSL kernels</h3>
      <label>
        <input
          type="checkbox"
          checked={on}
          onChange={(e) => void setOn(e.target.checked)}
          data-testid="engine-toggle"
        />{' '}
        Also run each image on this project’s kernels (the trunk bidirectionally and the attentive
        probe, from the same weights as onnxruntime, in f32)
      </label>
      {planned && (
        <p className={planned.ok ? 'muted small' : 'notice'} data-testid="engine-plan">
          {planned.ok
            ? `Our engine would allocate ${formatBytes(planned.totalBytes ?? NaN)} of GPU memory for this model (weights as f32; largest tensor ${planned.largestTensor?.label}, ${formatBytes(planned.largestTensor?.bytes ?? NaN)}).`
            : planned.reason}
        </p>
      )}
      {busy && (
        <p role="status" data-testid="engine-busy">
          Running both engines
          {!c?.wgsl && ' (the first run reads the weights and compiles our kernels)'}…
        </p>
      )}
      {error && <ErrorNotice error={error} context="The engines were not compared." />}
      {on && c && (
        <div data-testid="engine-comparison" data-image={c.image}>
          {c.refused && (
            <p className="notice" data-testid="engine-refused">
              {c.refused}
            </p>
          )}
          <div className="engine-sides">
            <div className="engine-side" data-testid="engine-side-onnx">
              <h4>onnxruntime-web ({c.onnx.backend === 'webgpu' ? 'WebGPU' : 'wasm'})</h4>
              <TopList top={c.onnx.top} testId="engine-top-onnx" />
              <LatencyLine
                summary={summarizeLatencies(onnxLatencies)}
                testId="engine-latency-onnx"
              />
              <p className="muted small">this image: {ms(c.onnx.latencyMs)}</p>
            </div>
            <div className="engine-side" data-testid="engine-side-wgsl">
              <h4>our WGSL kernels{adapter ? ` (${adapter})` : ''}</h4>
              {c.wgsl ? (
                <>
                  <TopList top={c.wgsl.top} testId="engine-top-wgsl" />
                  <LatencyLine
                    summary={summarizeLatencies(wgslLatencies)}
                    testId="engine-latency-wgsl"
                  />
                  <p className="muted small">
                    this image: {ms(c.wgsl.latencyMs)} · {formatBytes(c.wgsl.bytes)} of GPU memory,
                    f32 weights
                    {c.wgsl.createMs !== undefined && ` · engine made in ${ms(c.wgsl.createMs)}`}
                  </p>
                </>
              ) : (
                <p className="muted">not run</p>
              )}
            </div>
          </div>
          {c.wgsl && (
            <p data-testid="engine-diff" data-max-abs-diff={c.maxAbsDiff}>
              Largest |difference| of the {c.compared === 'logits' ? 'logits' : 'features'}:{' '}
              <strong>{c.maxAbsDiff.toExponential(2)}</strong>
              {c.compared === 'logits' && (
                <span className="muted"> (features: {c.maxFeatureDiff.toExponential(2)})</span>
              )}
              {sameTop1 !== undefined &&
                (sameTop1 ? ' · same top class' : ' · the top classes differ')}
            </p>
          )}
          {c.wgsl && <ProbeAttention comparison={c} />}
        </div>
      )}
    </section>
  );
}
