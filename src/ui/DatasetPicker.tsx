/**
 * The dataset choice: the embedded Fashion-MNIST subset, the procedural colour set, or the
 * user's own images — a folder, a .zip, or CIFAR-10 binary batches — chosen with a file
 * dialog or dropped on the box. Files are read here and decoded in the worker.
 */
import { PRESETS } from '../model/config';
import type { UserDataInput } from '../worker/protocol';
import { DropZone } from './DropZone';
import { ErrorNotice } from './ErrorNotice';
import { useSettings } from './settingsStore';
import type { LinkDataset } from './urlSettings';

type Picked = { path: string; file: File };

function kindOf(files: Picked[]): UserDataInput['kind'] {
  if (files.length === 1 && /\.zip$/i.test(files[0].path)) return 'zip';
  if (files.some((f) => /(data_batch_\d|test_batch)\.bin$|cifar.*\.tar\.gz$/i.test(f.path)))
    return 'cifar';
  return 'folder';
}

/** Every file below a dropped folder (FileSystemEntry API, which drag-and-drop still uses). */
async function entryFiles(entry: FileSystemEntry, prefix = ''): Promise<Picked[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) =>
      (entry as FileSystemFileEntry).file(resolve, reject),
    );
    return [{ path: prefix + entry.name, file }];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const children: FileSystemEntry[] = [];
  // readEntries returns at most ~100 entries per call: read until it returns none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject),
    );
    if (batch.length === 0) break;
    children.push(...batch);
  }
  const nested = await Promise.all(children.map((c) => entryFiles(c, `${prefix}${entry.name}/`)));
  return nested.flat();
}

const LABELS: Record<LinkDataset, string> = {
  'fashion-mnist': 'Fashion-MNIST (embedded, 10k images)',
  procedural: 'Procedural colour patterns (instant)',
  user: 'Your own images (folder, .zip or CIFAR-10)',
};

export function DatasetPicker({ disabled }: { disabled: boolean }) {
  const kind = useSettings((s) => s.datasetKind);
  const setKind = useSettings((s) => s.setDatasetKind);
  const user = useSettings((s) => s.userDataset);
  const loading = useSettings((s) => s.userLoading);
  const error = useSettings((s) => s.userError);
  const load = useSettings((s) => s.loadUserFiles);
  const preset = useSettings((s) => s.settings.preset);

  const submit = async (picked: Picked[]) => {
    if (picked.length === 0) return;
    const files = await Promise.all(
      picked.map(async (p) => ({
        path: p.path,
        bytes: new Uint8Array(await p.file.arrayBuffer()),
      })),
    );
    // Stored at least at the largest trainable resolution, so switching presets keeps detail.
    const storeSize = Math.max(PRESETS[preset].imageSize, 32);
    await load({ kind: kindOf(picked), files, storeSize });
  };

  const onDrop = async (data: DataTransfer) => {
    // The entries are taken before the first await: the transfer is emptied after the event.
    const entries = [...data.items]
      .map((i) => i.webkitGetAsEntry?.())
      .filter((x): x is FileSystemEntry => Boolean(x));
    const files = [...data.files];
    const picked = entries.length
      ? (await Promise.all(entries.map((en) => entryFiles(en)))).flat()
      : files.map((file) => ({ path: file.name, file }));
    await submit(picked);
  };
  // A folder picker gives each file's path below the folder; a files picker, none.
  const submitPicked = (files: File[]) =>
    void submit(files.map((file) => ({ path: file.webkitRelativePath || file.name, file })));

  return (
    <fieldset className="dataset" disabled={disabled}>
      <legend>Dataset</legend>
      {(Object.keys(LABELS) as LinkDataset[]).map((k) => (
        <label key={k} className="radio">
          <input
            type="radio"
            name="dataset"
            value={k}
            checked={kind === k}
            onChange={() => setKind(k)}
            data-testid={`dataset-${k}`}
          />
          {LABELS[k]}
        </label>
      ))}
      {kind === 'user' && (
        <DropZone
          prompt="Drop a folder (one sub-folder per class), a .zip, or CIFAR-10 .bin files here, or:"
          onDrop={(data) => void onDrop(data)}
          pickers={[
            {
              label: 'Choose files…',
              multiple: true,
              accept: '.zip,.bin,.gz,image/*',
              onFiles: submitPicked,
            },
            { label: 'Choose a folder…', multiple: true, directory: true, onFiles: submitPicked },
          ]}
        >
          {loading && <p role="status">Decoding your images in the worker…</p>}
          {user && (
            <p role="status" data-testid="user-dataset">
              <strong>{user.name}</strong>: {user.train.toLocaleString()} training and{' '}
              {user.val.toLocaleString()} validation images, {user.classes.length} classes
              {user.report.skipped.length > 0 && <> · {user.report.skipped.length} files skipped</>}
            </p>
          )}
          {user && user.report.skipped.length > 0 && (
            <details>
              <summary>Skipped files</summary>
              <ul>
                {user.report.skipped.slice(0, 50).map((s) => (
                  <li key={s.name}>
                    <code>{s.name}</code>: {s.reason}
                  </li>
                ))}
              </ul>
            </details>
          )}
          {error && <ErrorNotice error={error} />}
        </DropZone>
      )}
    </fieldset>
  );
}
