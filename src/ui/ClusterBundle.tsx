/**
 * "Continue on a cluster": a finished run as an ml-l3m experiment (src/scaleout/bundle.ts) —
 * config.yaml, launch.sh, README.md and, when the run's checkpoint is stored in this browser,
 * its weights in ml-l3m's state-dict layout — downloaded as one zip, and one line saying
 * which settings could not be carried over and why.
 */
import { useState } from 'react';
import { buildBundle, zipBundle } from '../scaleout/bundle';
import { downloadBlob, fileSafe } from './download';
import { savedCheckpoint } from './runDriver';
import type { RunRecord } from './runRecords';

/** The most GPUs (of 8, a typical node) the run's batch splits over evenly. */
export function defaultWorldSize(batch: number): number {
  for (const gpus of [8, 4, 2]) if (batch % gpus === 0) return gpus;
  return 1;
}

export function ClusterBundle({ run }: { run: RunRecord }) {
  const [busy, setBusy] = useState(false);
  const [line, setLine] = useState<string>();
  if (run.phase !== 'finished') return null;

  const download = async () => {
    setBusy(true);
    try {
      let checkpoint: Uint8Array | undefined;
      let missing = '';
      try {
        checkpoint = run.checkpointStep !== undefined ? await savedCheckpoint(run.id) : undefined;
      } catch (error) {
        missing = ` (its checkpoint could not be read: ${(error as Error).message})`;
      }
      if (!checkpoint && !missing) missing = ' (no checkpoint stored here: the config only)';
      const bundle = buildBundle({
        kind: 'run',
        settings: run.settings,
        checkpoint,
        name: run.name,
        options: {
          worldSize: defaultWorldSize(run.settings.batch),
          dataTrain: '/data/train',
          dataVal: '/data/val',
          dtype: 'bfloat16',
        },
      });
      const folder = `${fileSafe(run.name)}-ml-l3m`;
      downloadBlob(
        `${folder}.zip`,
        new Blob([zipBundle(bundle, folder) as BlobPart], { type: 'application/zip' }),
      );
      setLine(`Downloaded ${folder}.zip${missing}. ${bundle.summary}`);
    } catch (error) {
      setLine(`The bundle could not be made: ${(error as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <button
        type="button"
        className="small secondary"
        onClick={() => void download()}
        disabled={busy}
        data-testid="cluster-bundle"
        title="An ml-l3m experiment (config, launch script, checkpoint, README) that continues this run on GPUs"
      >
        {busy ? 'Bundling…' : 'Continue on a cluster'}
      </button>
      {line && (
        <p
          className="small muted"
          role="status"
          data-testid="cluster-bundle-note"
          // Its own line under the row's buttons (the cell is a wrapping flex row).
          style={{
            flexBasis: '100%',
            order: 1,
            whiteSpace: 'normal',
            minWidth: '15rem',
            maxWidth: '36rem',
            margin: 0,
          }}
        >
          {line}
        </p>
      )}
    </>
  );
}
