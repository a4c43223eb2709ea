/**
 * Apple's released AIM checkpoints, converted to ONNX in this tab: drop config.json with
 * pytorch_model.bin (or a *_backbone.pth + *_head_*.pth pair, or *.safetensors), see what
 * each format will cost — the files written, the GPU memory to run it, whether this adapter
 * and this site's storage can hold it — choose one, and convert with one progress bar and a
 * cancel button. The result lands in the browser cache and loads like any cached model.
 */
import type { ConvertPlan, FormatPlan } from '../../inference/convertPlan';
import type { ConvertProgress } from '../../inference/convertRun';
import { formatBytes, formatDuration } from '../../util/format';
import type { SerializedError } from '../../worker/protocol';
import { DropZone } from '../DropZone';
import { useInference } from '../inferenceStore';
import { useConvert } from './convertStore';

const LAYOUT: Record<ConvertPlan['layout'], string> = {
  'pytorch_model.bin': 'one torch.save archive (pytorch_model.bin)',
  'pth-pair': 'backbone + probe head (.pth pair)',
  safetensors: 'safetensors',
};

function FormatChoice({
  f,
  checked,
  disabled,
}: {
  f: FormatPlan;
  checked: boolean;
  disabled: boolean;
}) {
  const setFormat = useConvert((s) => s.setFormat);
  const e = f.estimate;
  return (
    <label className="radio convert-format" data-testid={`convert-format-${f.format}`}>
      <input
        type="radio"
        name="convert-format"
        value={f.format}
        checked={checked}
        disabled={disabled}
        onChange={() => setFormat(f.format)}
      />
      <span>
        <strong>{f.format}</strong> · {formatBytes(f.outputBytes)} in {f.shardCount + 1} files · GPU
        about {formatBytes(e.totalGpuBytes)} ({formatBytes(e.gpuWeightBytes)} weights), largest
        buffer {formatBytes(e.largestBufferBytes)}
        {!f.fit.ok && (
          <span className="bad notice-inline" data-testid={`convert-fit-${f.format}`}>
            Will not load on this adapter: {f.fit.reason}
          </span>
        )}
        {f.fit.ok && f.fit.warnings.length > 0 && (
          <span className="muted notice-inline">{f.fit.warnings.join(' ')}</span>
        )}
        {f.storageShort && (
          <span className="bad notice-inline">Cannot be cached: {f.storageShort}.</span>
        )}
      </span>
    </label>
  );
}

function PlanView({ plan }: { plan: ConvertPlan }) {
  const format = useConvert((s) => s.format);
  const files = useConvert((s) => s.files);
  const busy = useConvert((s) => s.busy);
  const inspect = useConvert((s) => s.inspect);
  const convert = useConvert((s) => s.convert);
  const c = plan.config;
  const chosen = plan.formats.find((f) => f.format === format);
  const used = plan.files.filter((f) => f.role !== 'unused');
  const unused = plan.files.filter((f) => f.role === 'unused');
  return (
    <div data-testid="convert-plan">
      <ul className="small convert-facts" style={{ paddingLeft: '1.1rem' }}>
        <li>
          <strong>Checkpoint:</strong> {LAYOUT[plan.layout]}
        </li>
        <li data-testid="convert-shape">
          <strong>Model:</strong> AIM {c.embedDim}×{c.numBlocks}, {c.numHeads} heads,{' '}
          {c.imageHeight} px, patch {c.patchHeight}
          {plan.hasProbe ? `, probe: ${c.numClasses} classes` : ', no probe head (features only)'}
        </li>
        <li data-testid="convert-reads">
          <strong>Reads:</strong> {plan.tensorsToRead} tensors, {formatBytes(plan.bytesToRead)} (
          {plan.blocks} of {c.numBlocks} blocks
          {plan.blocks < c.numBlocks ? ': the probe reads no later layer' : ''})
        </li>
        <li>
          <strong>Memory while converting:</strong> about 2–3 times the largest tensor (
          {formatBytes(plan.largestTensor.bytes)} as f32), not the whole file
        </li>
      </ul>
      <p className="muted small">
        Files: {used.map((f) => `${f.name} (${formatBytes(f.bytes)})`).join(', ')}
        {unused.length > 0 && <> · not used: {unused.map((f) => f.name).join(', ')}</>}
      </p>
      {plan.heads.length > 1 && (
        <label className="field">
          Probe head
          <select
            value={plan.head}
            disabled={busy !== undefined}
            onChange={(e) => files && void inspect(files, e.target.value)}
            data-testid="convert-head"
          >
            {plan.heads.map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
      )}
      <fieldset className="plain" disabled={busy !== undefined}>
        <legend>Convert to</legend>
        {plan.formats.map((f) => (
          <FormatChoice key={f.format} f={f} checked={f.format === format} disabled={false} />
        ))}
      </fieldset>
      <button
        type="button"
        disabled={busy !== undefined || !chosen || chosen.storageShort !== undefined}
        onClick={() => void convert()}
        data-testid="convert-start"
      >
        Convert to {format} ({chosen ? formatBytes(chosen.outputBytes) : '—'})
      </button>
    </div>
  );
}

function ProgressView({ progress }: { progress?: ConvertProgress }) {
  const busy = useConvert((s) => s.busy);
  const cancel = useConvert((s) => s.cancel);
  const p = progress;
  const byBytes = p !== undefined && p.bytesToRead > 0;
  const max = byBytes ? p.bytesToRead : Math.max(1, p?.tensorsTotal ?? 1);
  const value = p ? (byBytes ? p.bytesRead : p.tensorsDone) : 0;
  return (
    <div className="load-progress" role="status" data-testid="convert-progress">
      <p>
        {busy === 'cancelling'
          ? 'Cancelling…'
          : p?.phase === 'checking'
            ? 'Checking the written files…'
            : 'Converting in this tab…'}
      </p>
      <progress max={max} value={Math.min(value, max)} data-testid="convert-bar" />
      {p && (
        <p className="small" data-testid="convert-progress-text">
          {byBytes && (
            <>
              {formatBytes(p.bytesRead)} of {formatBytes(p.bytesToRead)} read ·{' '}
            </>
          )}
          {p.tensorsDone} of {p.tensorsTotal || '…'} tensors · {formatBytes(p.bytesWritten)} written
          · {formatDuration(p.elapsedMs)}
          {p.etaMs !== undefined && <> · about {formatDuration(p.etaMs)} left</>}
        </p>
      )}
      <button
        type="button"
        className="secondary"
        disabled={busy !== 'converting'}
        onClick={() => void cancel()}
        data-testid="convert-cancel"
      >
        Cancel
      </button>
    </div>
  );
}

/** The page's words for a conversion error; the technical text stays one click away. */
function ConvertError({ error }: { error: SerializedError }) {
  const headline =
    error.name === 'CheckpointFileError'
      ? 'These files cannot be converted.'
      : error.name === 'CacheFullError'
        ? 'Browser storage filled up during the conversion.'
        : 'The conversion failed.';
  return (
    <div className="notice bad-notice" role="alert" data-testid="convert-error">
      <p>
        <strong>{headline}</strong> Nothing was cached.
      </p>
      <p>{error.remedy ?? error.message}</p>
      <details>
        <summary>Technical detail</summary>
        <pre>
          {error.name}: {error.message}
        </pre>
      </details>
    </div>
  );
}

function DoneLine() {
  const done = useConvert((s) => s.done);
  const loadCached = useInference((s) => s.loadCached);
  const busy = useInference((s) => s.busy);
  if (!done) return null;
  const { entry } = done;
  return (
    <div className="notice" role="status" data-testid="convert-done">
      <p>
        Converted in {formatDuration(done.ms)}: <strong>{entry.label}</strong>,{' '}
        {formatBytes(entry.totalBytes)} in {entry.files.length} files, saved in the browser cache
        {done.replaced.length > 0 && ' (replacing the earlier conversion of these files)'}.
      </p>
      <button
        type="button"
        disabled={busy !== undefined}
        onClick={() => void loadCached(entry.id)}
        data-testid="convert-load"
      >
        Load it
      </button>
    </div>
  );
}

export function ConvertPanel() {
  const inspect = useConvert((s) => s.inspect);
  const busy = useConvert((s) => s.busy);
  const plan = useConvert((s) => s.plan);
  const error = useConvert((s) => s.error);
  const progress = useConvert((s) => s.progress);
  const cancelled = useConvert((s) => s.cancelled);
  const converting = busy === 'converting' || busy === 'cancelling';
  return (
    <section className="panel" aria-labelledby="convert-title" data-testid="convert-panel">
      <h3 id="convert-title">Convert Apple’s checkpoint</h3>
      <DropZone
        prompt={
          <>
            Drop <code>config.json</code> with <code>pytorch_model.bin</code>, or a{' '}
            <code>*_backbone.pth</code> + <code>*_head_*.pth</code> pair, or{' '}
            <code>*.safetensors</code>: converted to ONNX here, read a tensor at a time.
          </>
        }
        onDrop={(data) => void inspect([...data.files])}
        disabled={busy !== undefined}
        pickers={[
          {
            label: 'Choose checkpoint files…',
            multiple: true,
            testId: 'convert-files',
            onFiles: (files) => void inspect(files),
          },
        ]}
      />
      {busy === 'inspecting' && <p role="status">Reading the archives’ directories…</p>}
      {error && <ConvertError error={error} />}
      {cancelled && (
        <p className="notice warn-notice" role="status" data-testid="convert-cancelled">
          Cancelled: nothing was written to the cache.
        </p>
      )}
      {plan && <PlanView plan={plan} />}
      {converting && <ProgressView progress={progress} />}
      <DoneLine />
    </section>
  );
}
