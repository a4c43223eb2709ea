/**
 * The Inference tab: load an exported AIM model (by URL, from disk, from the browser cache,
 * or by exporting a run trained here), see what it will cost before it loads, then run it on
 * images. The backend is stated at all times: WebGPU, or wasm with the reason.
 */
import { useEffect, useMemo, useState } from 'react';
import { formatBytes } from '../../util/format';
import { DropZone } from '../DropZone';
import { ErrorNotice } from '../ErrorNotice';
import { useInference } from '../inferenceStore';
import { defaultInferenceRun } from '../runRecords';
import { RunLink } from '../RunLink';
import { useSession } from '../runDriver';
import { useRuns } from '../runsStore';
import { formatNumber } from '../../util/format';
import { ClassifyPanel } from './ClassifyPanel';
import { ConvertPanel } from './ConvertPanel';
import { EnginePanel } from './EnginePanel';
import { ExamplesPanel } from './ExamplesPanel';
import { LoadProgressView } from './LoadProgressView';
import { ModelMemoryTable } from './ModelMemoryTable';
import { ModelFacts, ModelPlanCard } from './ModelPlanCard';
import { Presenter } from './Presenter';
import { usePresenter } from './presenterStore';

function BackendLine() {
  const env = useInference((s) => s.env);
  const backend = useInference((s) => s.backend);
  const setBackend = useInference((s) => s.setBackend);
  const busy = useInference((s) => s.busy);
  if (!env) return <p className="muted">Starting onnxruntime…</p>;
  return (
    <div className="backend-line" data-testid="inference-env">
      <label>
        Run models on{' '}
        <select
          value={backend}
          disabled={busy !== undefined}
          onChange={(e) => setBackend(e.target.value as 'webgpu' | 'wasm')}
          data-testid="inference-backend"
        >
          <option value="webgpu" disabled={env.webgpuUnavailable !== undefined}>
            WebGPU{env.adapter ? ` (${env.adapter})` : ''}
          </option>
          <option value="wasm">wasm (CPU)</option>
        </select>
      </label>
      {env.webgpuUnavailable && (
        <p className="notice warn-notice">
          Models run on the CPU (wasm) because {env.webgpuUnavailable}. That is much slower.
        </p>
      )}
      {!env.jspi && (
        <p className="notice bad-notice">
          This browser lacks WebAssembly JSPI, which onnxruntime needs here to load weights without
          copying them whole into memory. Use Chrome or Edge 137 or later.
        </p>
      )}
    </div>
  );
}

function LoadPanel() {
  const inspectUrl = useInference((s) => s.inspectUrl);
  const inspectFiles = useInference((s) => s.inspectFiles);
  const loadRun = useInference((s) => s.loadRun);
  const busy = useInference((s) => s.busy);
  const order = useRuns((s) => s.order);
  const records = useRuns((s) => s.records);
  // Runs with a checkpoint saved in this browser: those can be exported.
  const runs = useMemo(
    () => order.map((id) => records[id]).filter((r) => r && r.checkpointStep !== undefined),
    [order, records],
  );
  const [url, setUrl] = useState('');
  const activeRunId = useSession((s) => s.activeRunId);
  const [runId, setRunId] = useState('');
  const run = runs.find((r) => r.id === runId) ?? defaultInferenceRun(runs, activeRunId);
  return (
    <section className="panel" aria-labelledby="load-title">
      <h3 id="load-title">Load a model</h3>
      <form
        className="link-row"
        onSubmit={(e) => {
          e.preventDefault();
          void inspectUrl(url);
        }}
      >
        <label htmlFor="model-url">URL of model.onnx (or its folder)</label>
        <input
          id="model-url"
          type="text"
          value={url}
          placeholder="https://…/aim-600M-int4/model.onnx"
          onChange={(e) => setUrl(e.target.value)}
          data-testid="model-url"
        />
        <button type="submit" disabled={busy !== undefined || !url.trim()}>
          Inspect
        </button>
      </form>
      <DropZone
        prompt={
          <>
            Or drop <code>model.onnx</code> with its <code>model.onnx.data_*</code> files here, or:
          </>
        }
        onDrop={(data) => void inspectFiles([...data.files])}
        disabled={busy !== undefined}
        pickers={[
          {
            label: 'Choose files…',
            multiple: true,
            testId: 'model-files',
            onFiles: (files) => void inspectFiles(files),
          },
        ]}
      />
      {runs.length > 0 && run && (
        <div className="link-row">
          <label htmlFor="run-pick">Or a run trained here</label>
          <select
            id="run-pick"
            value={run.id}
            onChange={(e) => setRunId(e.target.value)}
            data-testid="run-pick"
          >
            {[...runs].reverse().map((r) => (
              <option key={r.id} value={r.id}>
                {r.name} ({r.phase}, step {r.checkpointStep}
                {r.evals.length ? `, val loss ${formatNumber(r.evals.at(-1)!.valLoss)}` : ''})
              </option>
            ))}
          </select>
          <button
            type="button"
            disabled={busy !== undefined}
            onClick={() => void loadRun(run.id, run.name)}
            data-testid="load-run"
          >
            Export and load
          </button>
          <RunLink runId={run.id} testId="inference-run-link" />
        </div>
      )}
    </section>
  );
}

function CachedModels() {
  const cached = useInference((s) => s.cached);
  const busy = useInference((s) => s.busy);
  const loadCached = useInference((s) => s.loadCached);
  const removeCached = useInference((s) => s.removeCached);
  if (cached.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="cached-title">
      <h3 id="cached-title">In this browser’s cache</h3>
      <ul className="cached-models" data-testid="cached-models">
        {cached.map((c) => (
          <li key={c.id} data-testid="cached-model">
            <span>
              <strong>{c.label}</strong> · {formatBytes(c.totalBytes)} · {c.files.length} files
            </span>{' '}
            <button
              type="button"
              className="small"
              disabled={busy !== undefined}
              onClick={() => void loadCached(c.id)}
            >
              Load
            </button>{' '}
            <button
              type="button"
              className="small secondary"
              disabled={busy !== undefined}
              onClick={() => void removeCached(c.id)}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function KnnProbeLine() {
  const knn = useInference((s) => s.knn);
  const state = useInference((s) => s.knnState);
  const progress = useInference((s) => s.knnProgress);
  if (state === 'fitting')
    return (
      <div role="status" data-testid="knn-progress">
        <p>
          Fitting a k-NN probe on the run’s labelled images
          {progress
            ? `: ${progress.embedded.toLocaleString('en')} of ${progress.total.toLocaleString('en')} embedded…`
            : ' (reading them)…'}
        </p>
        <progress max={progress?.total ?? 1} value={progress?.embedded ?? 0} />
      </div>
    );
  if (state) return <ErrorNotice error={state} context="The k-NN probe could not be fitted." />;
  if (!knn) return null;
  return (
    <p data-testid="knn-probe">
      No classification head, so a k-NN probe (k = {knn.k}, cosine, on mean-pooled features) of{' '}
      {knn.trainCount.toLocaleString()} {knn.dataset} training images classifies instead:{' '}
      <strong>{(100 * knn.valAccuracy).toFixed(1)} %</strong> top-1 on{' '}
      {knn.valCount.toLocaleString()} held-out images ({(knn.ms / 1000).toFixed(1)} s).
    </p>
  );
}

function LoadedModelPanel() {
  const loaded = useInference((s) => s.loaded);
  if (!loaded) return null;
  return (
    <section className="panel" aria-labelledby="loaded-title" data-testid="loaded-model">
      <h3 id="loaded-title">Loaded: {loaded.label}</h3>
      <p data-testid="loaded-backend" data-backend={loaded.backend}>
        Running on <strong>{loaded.backend === 'webgpu' ? 'WebGPU' : 'wasm (CPU)'}</strong>
        {loaded.fallbackReason && <> because {loaded.fallbackReason}</>} · session created in{' '}
        {(loaded.createMs / 1000).toFixed(2)} s
      </p>
      {loaded.cacheNote ? (
        <p className="notice warn-notice" data-testid="cache-note">
          {loaded.cacheNote}
        </p>
      ) : (
        loaded.cached && <p className="muted small">Saved in the browser cache.</p>
      )}
      <ModelFacts card={loaded} />
      <KnnProbeLine />
    </section>
  );
}

export function InferenceView() {
  const init = useInference((s) => s.init);
  const card = useInference((s) => s.card);
  const busy = useInference((s) => s.busy);
  const error = useInference((s) => s.error);
  const progress = useInference((s) => s.progress);
  const presets = useInference((s) => s.presets);
  const backend = useInference((s) => s.backend);
  const loadInspected = useInference((s) => s.loadInspected);
  const loaded = useInference((s) => s.loaded);
  const presenting = usePresenter((s) => s.presenting);
  useEffect(() => {
    void init();
  }, [init]);
  // The presenter view replaces the tab's panels, so the page under it cannot scroll.
  if (presenting && loaded) return <Presenter />;
  return (
    <div className="view inference-view">
      <BackendLine />
      <div className="two-col">
        <aside>
          <LoadPanel />
          <ConvertPanel />
          <CachedModels />
        </aside>
        <div>
          <ExamplesPanel />
          {busy === 'inspecting' && <p role="status">Reading model.onnx…</p>}
          {error && <ErrorNotice error={error} context="Nothing was loaded or cached." />}
          {card && (
            <ModelPlanCard
              card={card}
              busy={busy !== undefined}
              onLoad={() => void loadInspected()}
            />
          )}
          {busy === 'loading' && progress && <LoadProgressView progress={progress} />}
          {busy === 'loading' && !progress && <p role="status">Preparing…</p>}
          <LoadedModelPanel />
          <ClassifyPanel />
          <EnginePanel />
          <ModelMemoryTable plans={presets} backend={backend} />
        </div>
      </div>
    </div>
  );
}
