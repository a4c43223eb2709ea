import { useEffect } from 'react';
import { adapterDisplayName } from '../gpu/capabilities';
import { GpuPanel } from './GpuPanel';
import { SelfTestPanel } from './SelfTestPanel';
import { usePlayground } from './store';
import { UnavailablePage } from './UnavailablePage';

export function App() {
  const phase = usePlayground((s) => s.gpuPhase);
  const capabilities = usePlayground((s) => s.capabilities);
  const gpuError = usePlayground((s) => s.gpuError);
  const probeGpu = usePlayground((s) => s.probeGpu);

  useEffect(() => {
    void probeGpu();
  }, [probeGpu]);

  return (
    <div className="app">
      <header className="app-header">
        <h1>AIM Playground</h1>
        <p className="tagline">
          Autoregressive Image Models, trained on your own GPU with hand-written WGSL.
        </p>
        <div className="gpu-badge" data-testid="gpu-phase" data-phase={phase} role="status">
          {phase === 'probing' && 'Looking for a WebGPU adapter…'}
          {phase === 'ready' &&
            capabilities &&
            `WebGPU ready · ${adapterDisplayName(capabilities)}`}
          {phase === 'unavailable' && 'WebGPU unavailable'}
          {phase === 'lost' && 'GPU device lost'}
        </div>
      </header>
      <main>
        {phase === 'unavailable' && gpuError && <UnavailablePage error={gpuError} />}
        {phase === 'lost' && gpuError && (
          <section className="panel error-panel" role="alert">
            <h2>The GPU device was lost</h2>
            <p>
              The browser or the driver reset the GPU. Nothing is lost on this page; press the
              button to create a new device.
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
        {phase === 'ready' && capabilities && (
          <>
            <GpuPanel capabilities={capabilities} />
            <SelfTestPanel />
          </>
        )}
      </main>
    </div>
  );
}
