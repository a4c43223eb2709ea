/**
 * The page: a header with the GPU's state and the theme, then five views — Train, Compare
 * orderings, Runs, Inference, GPU — as tabs. Without WebGPU the page explains why instead of the views;
 * when the device is lost it says so and offers to reconnect (runs and metrics stay).
 */
import { useEffect } from 'react';
import { adapterDisplayName } from '../gpu/capabilities';
import { CompareView } from './CompareView';
import { useCompare } from './compareStore';
import { GpuSummary } from './GpuSummary';
import { GpuView } from './GpuView';
import { ResumeBanner } from './ResumeBanner';
import { isActive } from './runRecords';
import { persistNow, useRuns } from './runsStore';
import { SettingsPanel } from './SettingsPanel';
import { TABS, useSettings, type Tab } from './settingsStore';
import { usePlayground } from './store';
import { Tabs } from './Tabs';
import { useTheme, type ThemeChoice } from './theme';
import { TrainView } from './TrainView';
import { PaperView } from './PaperView';
import { RunsView } from './RunsView';
import { InferenceView } from './inference/InferenceView';
import { UnavailablePage } from './UnavailablePage';

const TAB_LABELS: Record<Tab, string> = {
  train: 'Train',
  compare: 'Compare orderings',
  paper: 'Paper tables',
  runs: 'Runs',
  inference: 'Inference',
  gpu: 'GPU',
};

function ThemePicker() {
  const choice = useTheme((s) => s.choice);
  const setChoice = useTheme((s) => s.setChoice);
  return (
    <label className="theme-picker">
      <span className="sr-only">Colour theme</span>
      <select
        value={choice}
        onChange={(e) => setChoice(e.target.value as ThemeChoice)}
        data-testid="theme"
      >
        <option value="auto">Theme: system</option>
        <option value="light">Theme: light</option>
        <option value="dark">Theme: dark</option>
      </select>
    </label>
  );
}

export function App() {
  const phase = usePlayground((s) => s.gpuPhase);
  const capabilities = usePlayground((s) => s.capabilities);
  const gpuError = usePlayground((s) => s.gpuError);
  const probeGpu = usePlayground((s) => s.probeGpu);
  const tab = useSettings((s) => s.tab);
  const setTab = useSettings((s) => s.setTab);
  const loadRuns = useRuns((s) => s.load);
  const runActive = useRuns((s) => Object.values(s.records).some(isActive));
  const comparing = useCompare((s) => s.running);

  useEffect(() => {
    void probeGpu();
    void loadRuns();
    // Closing or reloading the tab: write what has not been written yet.
    const save = () => void persistNow();
    addEventListener('pagehide', save);
    return () => removeEventListener('pagehide', save);
  }, [probeGpu, loadRuns]);

  return (
    <div className="app">
      <header className="app-header">
        <div className="brand">
          <h1>AIM Playground</h1>
          <p className="tagline">
            Autoregressive Image Models, trained on your GPU with hand-written WGSL.
          </p>
        </div>
        <div className="gpu-badge" data-testid="gpu-phase" data-phase={phase} role="status">
          {phase === 'probing' && 'Looking for a WebGPU adapter…'}
          {phase === 'ready' &&
            capabilities &&
            `WebGPU ready · ${adapterDisplayName(capabilities)}`}
          {phase === 'unavailable' && 'WebGPU unavailable'}
          {phase === 'lost' && 'GPU device lost'}
        </div>
        <ThemePicker />
      </header>
      <main>
        {phase === 'unavailable' && gpuError && <UnavailablePage error={gpuError} />}
        {phase === 'lost' && gpuError && (
          <section className="panel error-panel" role="alert">
            <h2>The GPU device was lost</h2>
            <p>
              The browser or the driver reset the GPU. Your runs and their metrics are kept; press
              the button to create a new device, then resume a run from its last checkpoint in the
              Runs tab.
            </p>
            <details>
              <summary>Technical detail</summary>
              <pre>{gpuError.message}</pre>
            </details>
            <button type="button" onClick={() => void probeGpu()}>
              Reconnect to the GPU
            </button>
          </section>
        )}
        {phase === 'probing' && <p className="muted">Asking the browser for a GPU…</p>}
        {phase === 'ready' && capabilities && (
          <>
            <ResumeBanner />
            <Tabs
              label="Views"
              tabs={TABS.map((id) => ({ id, label: TAB_LABELS[id] }))}
              selected={tab}
              onSelect={setTab}
            />
            <div
              role="tabpanel"
              id={`panel-${tab}`}
              aria-labelledby={`tab-${tab}`}
              className="tab-panel"
            >
              {(tab === 'train' || tab === 'compare') && (
                <div className="two-col">
                  <aside>
                    <SettingsPanel locked={runActive || comparing} showOrdering={tab === 'train'} />
                    {tab === 'train' && (
                      <GpuSummary capabilities={capabilities} onDetails={() => setTab('gpu')} />
                    )}
                  </aside>
                  {tab === 'train' ? <TrainView /> : <CompareView />}
                </div>
              )}
              {tab === 'paper' && <PaperView />}
              {tab === 'runs' && <RunsView />}
              {tab === 'inference' && <InferenceView />}
              {tab === 'gpu' && <GpuView capabilities={capabilities} />}
            </div>
          </>
        )}
      </main>
    </div>
  );
}
