/**
 * The presenter view, for a projector: one example photo large, the loaded model's top-5 with
 * bars, the engine and its latency on this adapter (first run apart from the steady state),
 * and the model's size and format; it fits 1280×720 without scrolling. ← and → step through
 * the photos (each is classified as it appears), Escape leaves.
 */
import { useEffect, useRef, useState } from 'react';
import { formatBytes } from '../../util/format';
import { ErrorNotice } from '../ErrorNotice';
import { useInference } from '../inferenceStore';
import { classifyExample } from './exampleActions';
import { EXAMPLE_IMAGES, exampleUrl } from './exampleImages';
import { EngineLatencyFact } from './EngineLatencyFact';
import { summarizeLatencies } from './latencySummary';
import { usePresenter } from './presenterStore';
import { RgbCanvas } from './RgbCanvas';
import './presenter.css';

function formatMs(ms: number | undefined) {
  return ms === undefined ? '–' : `${ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
}

export function Presenter() {
  const index = usePresenter((s) => s.index);
  const step = usePresenter((s) => s.step);
  const close = usePresenter((s) => s.close);
  const loaded = useInference((s) => s.loaded);
  const env = useInference((s) => s.env);
  const busy = useInference((s) => s.busy);
  const result = useInference((s) => s.result);
  const error = useInference((s) => s.classifyError);
  const latencies = useInference((s) => s.latencies);
  const example = EXAMPLE_IMAGES[index];
  const shown = result?.imageName === example.title ? result : undefined;

  // Classify the photo on screen when the result shown is another's: on opening, after a
  // step, or after steps made while the last run was still going. One at a time (a photo is
  // fetched before the store calls itself busy), and once per photo shown, so a photo that
  // fails is not retried in a loop.
  const attempted = useRef<string | undefined>(undefined);
  const inFlight = useRef(false);
  const [settled, setSettled] = useState(0);
  useEffect(() => {
    if (!loaded || busy || shown || inFlight.current || attempted.current === example.title) return;
    attempted.current = example.title;
    inFlight.current = true;
    void classifyExample(index).finally(() => {
      inFlight.current = false;
      setSettled((n) => n + 1);
    });
  }, [loaded, busy, shown, example.title, index, settled]);

  // Focus moves into the view (the Present button it replaced is gone); on leaving, the
  // browser's full screen ends with it.
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    root.current?.focus();
    return () => {
      if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    };
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'ArrowRight') step(1);
      else if (e.key === 'ArrowLeft') step(-1);
      // In full screen the browser takes the first Escape to leave it; the next one leaves.
      else if (e.key === 'Escape') close();
      else return;
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [step, close]);

  const latency = summarizeLatencies(latencies);
  const engine = loaded
    ? `onnxruntime-web on ${loaded.backend === 'webgpu' ? `WebGPU${env?.adapter ? ` (${env.adapter})` : ''}` : 'wasm (CPU)'}`
    : undefined;
  return (
    <div
      ref={root}
      tabIndex={-1}
      className="presenter"
      role="dialog"
      aria-modal="true"
      aria-label="Presenter view"
      data-testid="presenter"
    >
      <figure className="presenter-stage">
        <img
          src={exampleUrl(example)}
          alt={example.title}
          data-testid="presenter-image"
          data-file={example.file}
        />
        <figcaption>
          <strong>{example.title}</strong> · {example.credit} · {index + 1} of{' '}
          {EXAMPLE_IMAGES.length}
        </figcaption>
      </figure>
      <div className="presenter-side">
        {!loaded && <p>Load a model first, then present.</p>}
        {error && !shown && <ErrorNotice error={error} context="The photo was not classified." />}
        {loaded && !shown && !error && <p role="status">Running the model…</p>}
        {shown?.top && (
          <>
            {shown.topSource === 'k-NN' && (
              <p className="muted small">Classes from the k-NN probe of the run’s data</p>
            )}
            <ol className="presenter-top" data-testid="presenter-top">
              {shown.top.map((t) => (
                <li key={t.index}>
                  <span className="presenter-class">{t.name}</span>
                  <span className="presenter-probability">
                    {(100 * t.probability).toFixed(1)} %
                  </span>
                  <span className="presenter-bar" aria-hidden="true">
                    <span style={{ width: `${(100 * t.probability).toFixed(1)}%` }} />
                  </span>
                </li>
              ))}
            </ol>
          </>
        )}
        {shown && !shown.top && (
          <figure className="presenter-pca">
            <RgbCanvas
              image={shown.pca.image}
              size={160}
              label="Patch features, first three principal components as RGB"
            />
            <figcaption className="small">
              No classification head: the patch features as colour (PCA)
            </figcaption>
          </figure>
        )}
        {loaded && (
          <dl className="presenter-facts" data-testid="presenter-facts">
            <div>
              <dt>Engine</dt>
              <dd>{engine}</dd>
            </div>
            <div>
              <dt>Latency</dt>
              <dd data-testid="presenter-latency">
                first run {formatMs(latency.firstMs)} · steady {formatMs(latency.steadyMs)}
                {latency.steadyRuns > 0 && (
                  <span className="muted"> (median of {latency.steadyRuns})</span>
                )}
              </dd>
            </div>
            <EngineLatencyFact />
            <div>
              <dt>Model</dt>
              <dd>
                {loaded.label} · {loaded.plan.format} · {formatBytes(loaded.plan.totalBytes)}
              </dd>
            </div>
          </dl>
        )}
        <div className="presenter-keys">
          <button type="button" className="secondary small" onClick={() => step(-1)}>
            ← Previous
          </button>
          <button type="button" className="secondary small" onClick={() => step(1)}>
            Next →
          </button>
          {document.fullscreenEnabled && (
            <button
              type="button"
              className="secondary small"
              onClick={() =>
                void (
                  document.fullscreenElement
                    ? document.exitFullscreen()
                    : document.documentElement.requestFullscreen()
                ).catch(() => undefined)
              }
            >
              Full screen
            </button>
          )}
          <button type="button" className="small" onClick={close} data-testid="presenter-leave">
            Leave (Esc)
          </button>
        </div>
      </div>
    </div>
  );
}
