/**
 * The paper's models (0.6B–7B) per weight format: download size, estimated GPU memory, and
 * whether this adapter can hold them — the plan for the 7B, shown before anyone tries it.
 */
import type { PresetPlan } from '../../inference/protocol';
import { formatBytes } from '../../util/format';

export function ModelMemoryTable({ plans, backend }: { plans: PresetPlan[]; backend: string }) {
  if (plans.length === 0) return null;
  // Each distinct caveat once, numbered, under the table: a tooltip is invisible on touch
  // screens and to anyone who does not hover.
  const notes = [...new Set(plans.flatMap((p) => (p.fit.ok ? p.fit.warnings : [])))];
  const noteNumbers = (warnings: readonly string[]) =>
    warnings.map((w) => notes.indexOf(w) + 1).join(', ');
  return (
    <section className="panel" aria-labelledby="memory-title">
      <h3 id="memory-title">What the released AIM models need</h3>
      <p className="muted small">
        224×224 input, batch 1, run up to the deepest probe layer (the 7B: 20 of 32 blocks). “Fits”
        checks this adapter’s largest-buffer limits on {backend}; total GPU memory is not something
        browsers reveal, so compare it with your GPU yourself.
      </p>
      <table className="memory-table" data-testid="preset-memory">
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col">Format</th>
            <th scope="col">Download</th>
            <th scope="col">GPU memory</th>
            <th scope="col">Largest buffer</th>
            <th scope="col">This browser</th>
          </tr>
        </thead>
        <tbody>
          {plans.map((p) => (
            <tr key={`${p.preset}-${p.format}`} data-testid={`preset-${p.preset}-${p.format}`}>
              <td>{p.preset}</td>
              <td>{p.format}</td>
              <td>{formatBytes(p.estimate.downloadBytes)}</td>
              <td>{formatBytes(p.estimate.totalGpuBytes)}</td>
              <td>{formatBytes(p.estimate.largestBufferBytes)}</td>
              <td>
                {p.fit.ok ? (
                  p.fit.warnings.length ? (
                    <span>fits (see note {noteNumbers(p.fit.warnings)})</span>
                  ) : (
                    'fits'
                  )
                ) : (
                  <span className="bad" title={p.fit.reason}>
                    too large: {p.fit.reason}
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {notes.length > 0 && (
        <ol className="muted small" data-testid="preset-memory-notes">
          {notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ol>
      )}
    </section>
  );
}
