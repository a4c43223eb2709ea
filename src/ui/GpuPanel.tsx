import { adapterDisplayName, WANTED_FEATURES, type GpuCapabilities } from '../gpu/capabilities';
import { formatBytes, LIMIT_BYTES_FORMAT } from '../util/format';

const FEATURE_NOTES: Record<(typeof WANTED_FEATURES)[number], string> = {
  subgroups: 'faster reductions and matmul',
  'shader-f16': 'half-precision kernels',
  'timestamp-query': 'exact GPU timings',
  'chromium-experimental-subgroup-matrix': 'matrix-core kernels',
};

const BYTE_LIMITS = new Set([
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
]);

/** What the adapter is and offers: the first thing a student sees. */
export function GpuPanel({ capabilities }: { capabilities: GpuCapabilities }) {
  const { adapter } = capabilities;
  return (
    <section className="panel" aria-labelledby="gpu-title">
      <h2 id="gpu-title">Your GPU</h2>
      <p>
        <span data-testid="adapter-name" className="adapter-name">
          {adapterDisplayName(capabilities)}
        </span>
        {adapter.isFallbackAdapter && (
          <span className="tag warn" title="A software rasteriser on the CPU: correct, but slow.">
            software fallback
          </span>
        )}
      </p>
      <h3>Features</h3>
      <ul className="features" data-testid="features">
        {WANTED_FEATURES.map((f) => {
          const has = capabilities.features.includes(f);
          return (
            <li key={f} data-feature={f} data-present={has}>
              <span aria-hidden="true">{has ? '✔' : '✘'}</span> <code>{f}</code>{' '}
              <span className="muted">
                {has ? '' : 'not available — '}
                {FEATURE_NOTES[f]}
              </span>
            </li>
          );
        })}
      </ul>
      <h3>Limits (raised to this adapter's maxima)</h3>
      <table className="limits">
        <tbody>
          {Object.entries(capabilities.limits).map(([name, value]) => (
            <tr key={name}>
              <th scope="row">
                <code>{name}</code>
              </th>
              <td>
                {BYTE_LIMITS.has(name)
                  ? formatBytes(value, LIMIT_BYTES_FORMAT)
                  : value.toLocaleString()}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
