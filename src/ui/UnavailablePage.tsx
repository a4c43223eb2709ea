import type { SerializedError } from '../worker/protocol';

/** Shown instead of the app when there is no WebGPU: why, and what to do about it. */
export function UnavailablePage({ error }: { error: SerializedError }) {
  return (
    <section className="panel error-panel" data-testid="webgpu-unavailable" role="alert">
      <h2>WebGPU is not available here</h2>
      <p>
        AIM Playground trains models on your GPU through WebGPU, and this browser did not give it
        one.
      </p>
      <p className="remedy">
        <strong>What to do: </strong>
        {error.remedy ??
          'Use a recent Chrome, Edge or Safari with hardware acceleration enabled, and open the page over HTTPS or localhost.'}
      </p>
      <details>
        <summary>Technical detail</summary>
        <pre>
          {error.name}: {error.message}
        </pre>
      </details>
    </section>
  );
}
