/**
 * What loading a model will cost, shown before any weight moves: its files and sizes, the
 * estimated GPU memory, the largest single buffer against this adapter's limits, and either
 * a Load button or the reason this browser cannot hold it.
 */
import type { ModelCard } from '../../inference/protocol';
import { formatBytes } from '../../util/format';

/** A dotted name with a line-break opportunity after each dot (and underscore). */
function breakableName(name: string) {
  return name.split(/(?<=[._])/).map((part, i) => (
    <span key={i}>
      {part}
      <wbr />
    </span>
  ));
}

export function ModelFacts({ card }: { card: ModelCard }) {
  const { plan, estimate } = card;
  const outputs = [
    `features ${plan.features.tokens}×${plan.features.dim}`,
    plan.logits && `logits (${plan.logits.classes} classes)`,
    plan.patchPredictions && 'next-patch predictions',
  ].filter(Boolean);
  return (
    <dl className="stats model-facts" data-testid="model-facts">
      <div>
        <dt>Input</dt>
        <dd>
          {plan.input.channels}×{plan.input.height}×{plan.input.width}
        </dd>
      </div>
      <div>
        <dt>Outputs</dt>
        <dd>{outputs.join(', ')}</dd>
      </div>
      <div>
        <dt>Weights</dt>
        <dd>
          {plan.format} · {formatBytes(plan.weightBytes)}
          {plan.blocks !== undefined && <> · {plan.blocks} blocks</>}
        </dd>
      </div>
      <div>
        <dt>Download</dt>
        <dd data-testid="model-total-bytes">
          {formatBytes(plan.totalBytes)} in {plan.shards.length + 1} files
        </dd>
      </div>
      <div>
        <dt>GPU memory (estimate)</dt>
        <dd data-testid="model-gpu-bytes">
          {formatBytes(estimate.totalGpuBytes)} ({formatBytes(estimate.gpuWeightBytes)} weights +{' '}
          {formatBytes(estimate.activationBytes)} activations)
        </dd>
      </div>
      <div>
        <dt>Largest buffer</dt>
        <dd>
          {formatBytes(plan.largestTensor.bytes)} (
          <code>{breakableName(plan.largestTensor.name)}</code>)
        </dd>
      </div>
    </dl>
  );
}

export function ModelPlanCard({
  card,
  busy,
  onLoad,
}: {
  card: ModelCard;
  busy: boolean;
  onLoad: () => void;
}) {
  const { plan, fit, estimate } = card;
  return (
    <section className="panel" aria-labelledby="plan-title" data-testid="model-plan">
      <h3 id="plan-title">{card.label}</h3>
      <ModelFacts card={card} />
      <details>
        <summary>Files</summary>
        <ul className="file-list">
          <li>
            <code>{plan.modelFileName}</code> {formatBytes(plan.modelBytes)}
          </li>
          {plan.shards.map((s) => (
            <li key={s.name}>
              <code>{breakableName(s.name)}</code> {formatBytes(s.expectedBytes ?? s.requiredBytes)}{' '}
              · {s.tensors} tensors
            </li>
          ))}
        </ul>
      </details>
      {estimate.notes.length > 0 && (
        <ul className="small muted">
          {estimate.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
      {fit.ok ? (
        <>
          {fit.warnings.map((w) => (
            <p key={w} className="notice warn-notice">
              {w}
            </p>
          ))}
          <p className="muted small">
            {card.cached
              ? 'This model is in the browser cache: it loads without downloading.'
              : 'It will be saved in the browser cache for the next visit when storage allows.'}
          </p>
          <button type="button" onClick={onLoad} disabled={busy} data-testid="load-model">
            Load model
          </button>
        </>
      ) : (
        <p className="notice bad-notice" role="alert" data-testid="model-refused">
          <strong>This browser cannot hold this model.</strong> {fit.reason}
        </p>
      )}
    </section>
  );
}
