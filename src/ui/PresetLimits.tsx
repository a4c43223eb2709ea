/**
 * Which of the adapter's limits the chosen preset and batch come closest to. The device is
 * created with every limit raised to the adapter's maximum (the WebGPU defaults are far lower);
 * this table shows what training needs of them, from the buffer-by-buffer estimate of
 * src/model/memory.ts (the same shapes the model allocates).
 */
import type { GpuCapabilities } from '../gpu/capabilities';
import { estimateTrainingMemory } from '../model/memory';
import { modelConfigFor, validateSettings, type RunSettings } from '../training/settings';
import { formatBytes } from '../util/format';
import { largestFittingBatch, singleBufferLimit } from './adapterFit';

/** What the kernels need whatever the preset: WebGPU's guaranteed minimums, by design. */
const KERNEL_NEEDS = [
  { limit: 'maxStorageBuffersPerShaderStage', needs: 8, what: 'storage buffers one kernel binds' },
  {
    limit: 'maxComputeWorkgroupStorageSize',
    needs: 16384,
    what: 'shared memory per workgroup',
    bytes: true,
  },
  { limit: 'maxComputeInvocationsPerWorkgroup', needs: 256, what: 'threads per workgroup' },
] as const;

/** The same figure the settings panel gives (adapterFit.ts), found by the same search. */
function fitHint(settings: RunSettings, limits: GpuCapabilities['limits']): string {
  const fits = largestFittingBatch(settings, settings.batch, singleBufferLimit(limits));
  return fits > 0
    ? `a batch of ${fits} or less fits, or choose a smaller preset.`
    : 'no batch size fits; choose a smaller preset.';
}

export function PresetLimits({
  capabilities,
  settings,
}: {
  capabilities: GpuCapabilities;
  settings: RunSettings;
}) {
  const { limits } = capabilities;
  const valid = validateSettings(settings).length === 0;
  const memory = valid
    ? estimateTrainingMemory(modelConfigFor(settings), settings.batch)
    : undefined;
  const rows = memory
    ? (['maxStorageBufferBindingSize', 'maxBufferSize'] as const).map((limit) => ({
        limit,
        needs: memory.largestBuffer.bytes,
        ratio: memory.largestBuffer.bytes / limits[limit],
      }))
    : [];
  const binding = rows.length ? rows.reduce((a, b) => (b.ratio > a.ratio ? b : a)) : undefined;
  return (
    <section className="panel" aria-labelledby="preset-limits-title">
      <h2 id="preset-limits-title">
        What {settings.preset} at batch {settings.batch} needs of this GPU
      </h2>
      {!memory ? (
        <p className="muted">Fix the settings to see what they need.</p>
      ) : (
        <>
          <p>
            Training holds about <strong>{formatBytes(memory.totalBytes)}</strong> of GPU memory in{' '}
            {memory.buffers} buffers (parameters {formatBytes(memory.bytes.parameters)}, optimizer{' '}
            {formatBytes(memory.bytes.optimizer)}, activations{' '}
            {formatBytes(memory.bytes.activations)}
            ). The largest single buffer, “{memory.largestBuffer.label}”, is what meets a limit
            first:
          </p>
          <table className="limits" data-testid="preset-limits">
            <thead>
              <tr>
                <th scope="col">limit</th>
                <th scope="col">needed</th>
                <th scope="col">this device</th>
                <th scope="col">use</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr
                  key={r.limit}
                  data-binding={r === binding}
                  className={r.ratio > 1 ? 'bad' : undefined}
                >
                  <th scope="row">
                    <code>{r.limit}</code>
                  </th>
                  <td>{formatBytes(r.needs)}</td>
                  <td>{formatBytes(limits[r.limit])}</td>
                  <td>
                    {(100 * r.ratio).toPrecision(2)}%
                    {r === binding && <span className="tag">binds first</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {binding && binding.ratio > 1 ? (
            <p className="bad" role="alert">
              This batch does not fit: {fitHint(settings, limits)}
            </p>
          ) : (
            binding && (
              <p className="muted small">
                Up to about batch {Math.floor(settings.batch / binding.ratio).toLocaleString()} fits
                this limit (device memory permitting: WebGPU does not report it).
              </p>
            )
          )}
        </>
      )}
      <h3>Limits the kernels keep within by design</h3>
      <table className="limits">
        <tbody>
          {KERNEL_NEEDS.map((k) => (
            <tr key={k.limit}>
              <th scope="row">
                <code>{k.limit}</code>
                <div className="muted small">{k.what}</div>
              </th>
              <td>{'bytes' in k ? formatBytes(k.needs) : k.needs}</td>
              <td>
                {'bytes' in k ? formatBytes(limits[k.limit]) : limits[k.limit].toLocaleString()}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
