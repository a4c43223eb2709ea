import type { GpuCapabilities } from '../gpu/capabilities';
import { GpuPanel } from './GpuPanel';
import { PresetLimits } from './PresetLimits';
import { SelfTestPanel } from './SelfTestPanel';
import { useSettings } from './settingsStore';

/** The GPU tab: the adapter in full, what the chosen preset needs of it, and the self-test. */
export function GpuView({ capabilities }: { capabilities: GpuCapabilities }) {
  const settings = useSettings((s) => s.settings);
  return (
    <div className="view gpu-view">
      <GpuPanel capabilities={capabilities} />
      <div>
        <PresetLimits capabilities={capabilities} settings={settings} />
        <SelfTestPanel />
      </div>
    </div>
  );
}
