import { usePlayground } from './store';

/**
 * Runs the matmul kernel in the training worker (the test build adds the page) and compares it
 * with the float64 reference; the check's code loads only when the button is pressed.
 */
export function SelfTestPanel() {
  const running = usePlayground((s) => s.selfTestRunning);
  const rows = usePlayground((s) => s.selfTestRows);
  const error = usePlayground((s) => s.selfTestError);
  const runSelfTest = usePlayground((s) => s.runSelfTest);
  const done = !running && rows.length > 0;
  const allPass = done && rows.every((r) => r.pass);
  return (
    <section className="panel" aria-labelledby="selftest-title">
      <h2 id="selftest-title">Kernel self-test</h2>
      <p className="muted">
        Multiplies seeded random matrices of awkward shapes with <code>shaders/matmul.wgsl</code>,
        in the Web Worker that trains, and checks each element against a float64 reference within
        the f32 rounding bound γ<sub>K</sub>·Σ|a||b|.
      </p>
      <button
        type="button"
        onClick={() => void runSelfTest()}
        disabled={running}
        data-testid="run-self-test"
      >
        {running ? 'Running…' : 'Run self-test'}
      </button>
      {done && (
        <p data-testid="self-test-verdict" data-pass={allPass} className={allPass ? 'ok' : 'bad'}>
          {allPass ? 'All kernels match the reference.' : 'A kernel does not match the reference.'}
        </p>
      )}
      {error && (
        <div role="alert" className="bad">
          Self-test failed: {error.message}
        </div>
      )}
      {rows.length > 0 && (
        <table className="results" data-testid="self-test-results">
          <thead>
            <tr>
              <th scope="col">where</th>
              <th scope="col">M×N×K</th>
              <th scope="col">max |error|</th>
              <th scope="col">error / bound</th>
              <th scope="col">ms</th>
              <th scope="col">result</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.where}-${r.m}-${r.n}-${r.k}`} data-where={r.where} data-pass={r.pass}>
                <td>{r.where}</td>
                <td>
                  {r.m}×{r.n}×{r.k}
                </td>
                <td>{r.maxAbsError.toExponential(2)}</td>
                <td>{r.worstBoundRatio.toFixed(3)}</td>
                <td>{r.ms.toFixed(1)}</td>
                <td>{r.pass ? 'pass' : 'FAIL'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
