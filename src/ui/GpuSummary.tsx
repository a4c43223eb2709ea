/** The GPU at a glance beside the settings: adapter, the features the kernels use. */
import { adapterDisplayName, WANTED_FEATURES, type GpuCapabilities } from '../gpu/capabilities';
import { estimateTrainingMemory } from '../model/memory';
import { modelConfigFor, validateSettings } from '../training/settings';
import { formatBytes } from '../util/format';
import { useSettings } from './settingsStore';

export function GpuSummary({
  capabilities,
  onDetails,
}: {
  capabilities: GpuCapabilities;
  onDetails: () => void;
}) {
  const settings = useSettings((s) => s.settings);
  const memory =
    validateSettings(settings).length === 0
      ? estimateTrainingMemory(modelConfigFor(settings), settings.batch)
      : undefined;
  const bindingLimit = capabilities.limits.maxStorageBufferBindingSize;
  return (
    <section className="panel gpu-summary" aria-labelledby="gpu-summary-title">
      <h2 id="gpu-summary-title">Your GPU</h2>
      <p>
        <span data-testid="adapter-name" className="adapter-name">
          {adapterDisplayName(capabilities)}
        </span>
        {capabilities.adapter.isFallbackAdapter && (
          <span className="tag warn" title="A software rasteriser on the CPU: correct, but slow.">
            software
          </span>
        )}
      </p>
      <ul className="features compact" data-testid="features">
        {WANTED_FEATURES.map((f) => {
          const has = capabilities.features.includes(f);
          return (
            <li key={f} data-feature={f} data-present={has}>
              <span aria-hidden="true">{has ? '✔' : '✘'}</span> <code>{f}</code>
              <span className="sr-only">{has ? ' available' : ' not available'}</span>
            </li>
          );
        })}
      </ul>
      {memory && (
        <p className="small" data-testid="memory-summary">
          {settings.preset} at batch {settings.batch}: about {formatBytes(memory.totalBytes)} of GPU
          memory; its largest buffer uses{' '}
          {((100 * memory.largestBuffer.bytes) / bindingLimit).toPrecision(2)}% of{' '}
          <code>maxStorageBufferBindingSize</code>.
        </p>
      )}
      <button type="button" className="link" onClick={onDetails}>
        Limits, what this preset needs, and the kernel self-test →
      </button>
    </section>
  );
}
