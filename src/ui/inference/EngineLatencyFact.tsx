/**
 * The presenter view's line for our WGSL engine (beside onnxruntime's latency): first run and
 * steady on this adapter, and how far its logits are from onnxruntime's — once the second
 * engine has run (the Inference page's "Also run on our kernels").
 */
import { useInference } from '../inferenceStore';
import { summarizeLatencies } from './latencySummary';

const ms = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(1)} ms`);

export function EngineLatencyFact() {
  const log = useInference((s) => s.wgslLatencies);
  const comparison = useInference((s) => s.comparison);
  const on = useInference((s) => s.secondEngine);
  if (!on || log.length === 0) return null;
  const latency = summarizeLatencies(log);
  return (
    <div>
      <dt>Our WGSL kernels</dt>
      <dd data-testid="presenter-wgsl-latency">
        first run {ms(latency.firstMs)} · steady {ms(latency.steadyMs)}
        {comparison?.wgsl && (
          <span className="muted">
            {' '}
            · max |Δ {comparison.compared}| {comparison.maxAbsDiff.toExponential(1)}
          </span>
        )}
      </dd>
    </div>
  );
}
