/**
 * After a reload: runs that were training when the tab closed and have a checkpoint in this
 * browser are offered for resumption (from the checkpoint's step; later steps are redone).
 */
import { useEffect, useState } from 'react';
import { resumeFromCheckpoint, savedRunIds } from './runDriver';
import { useRuns } from './runsStore';
import { useSettings } from './settingsStore';

export function ResumeBanner() {
  const loaded = useRuns((s) => s.loaded);
  const records = useRuns((s) => s.records);
  const patch = useRuns((s) => s.patch);
  const setTab = useSettings((s) => s.setTab);
  const [saved, setSaved] = useState<string[]>();

  useEffect(() => {
    if (loaded) void savedRunIds().then(setSaved);
  }, [loaded]);

  if (!saved) return null;
  const offers = Object.values(records).filter(
    (r) => r.phase === 'interrupted' && saved.includes(r.id),
  );
  if (offers.length === 0) return null;
  const run = offers.sort((a, b) => b.createdAt - a.createdAt)[0];
  return (
    <div
      className="notice resume-offer"
      role="region"
      aria-label="Resume an interrupted run"
      data-testid="resume-offer"
    >
      <p>
        <strong>“{run.name}”</strong> was interrupted at step {run.step} of {run.settings.steps}.
        Its last checkpoint (step {run.checkpointStep ?? '?'}) is in this browser.
      </p>
      <button
        type="button"
        onClick={() => {
          setTab('train');
          void resumeFromCheckpoint(run.id);
        }}
        data-testid="resume-interrupted"
      >
        Resume from step {run.checkpointStep ?? '?'}
      </button>{' '}
      <button
        type="button"
        className="secondary"
        onClick={() => patch(run.id, { phase: 'stopped' })}
      >
        Dismiss
      </button>
    </div>
  );
}
