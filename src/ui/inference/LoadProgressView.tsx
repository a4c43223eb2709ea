/** One bar per file and one for the whole model, against sizes known before the first byte. */
import { formatBytes } from '../../util/format';
import type { LoadProgress } from '../../inference/modelSources';

const PHASE: Record<LoadProgress['phase'], string> = {
  download: 'Downloading',
  copy: 'Copying into the browser cache',
  export: 'Exporting to ONNX in this tab',
  session: 'Creating the onnxruntime session (uploading weights, compiling shaders)',
};

export function LoadProgressView({ progress }: { progress: LoadProgress }) {
  const { phase, files, totalBytes, doneBytes } = progress;
  return (
    <div className="load-progress" role="status" data-testid="load-progress">
      <p>{PHASE[phase]}…</p>
      {phase !== 'session' && totalBytes > 0 && (
        <>
          <label className="progress-row">
            <span>
              {phase === 'export' ? 'Tensors' : 'All files'}:{' '}
              {phase === 'export'
                ? `${doneBytes} of ${totalBytes}`
                : `${formatBytes(doneBytes)} of ${formatBytes(totalBytes)}`}
            </span>
            <progress max={totalBytes} value={doneBytes} data-testid="progress-overall" />
          </label>
          {phase !== 'export' &&
            files.map((f) => (
              <label key={f.name} className="progress-row small">
                <span>
                  <code>{f.name}</code> {formatBytes(f.done)} / {formatBytes(f.bytes)}
                </span>
                <progress max={f.bytes || 1} value={f.done} data-testid={`progress-${f.name}`} />
              </label>
            ))}
        </>
      )}
      {phase === 'session' && <progress data-testid="progress-session" />}
    </div>
  );
}
