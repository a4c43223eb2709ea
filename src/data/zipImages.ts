/**
 * User images from a dropped .zip, with the folder rules of src/data/folderImages.ts
 * (class = first sub-folder below the folders all images share). fflate reads the central
 * directory; entries are then inflated a group at a time (about 64 MB of output per group)
 * so a large archive is never fully expanded in memory, and decoded one by one. A corrupt
 * entry (bad deflate data, unsupported compression, implausible size) is skipped and
 * reported; an archive whose directory cannot be read is refused with a DatasetError.
 */
import { unzipSync, type UnzipFileInfo } from 'fflate';
import { DatasetError, type ImageDataset } from './dataset';
import {
  ImageCollector,
  type ImageFolderOptions,
  normalisePath,
  planImageFolder,
} from './folderImages';

/** Inflated bytes per unzipSync call: bounds the memory held besides the archive itself. */
const GROUP_BYTES = 64 * 1024 * 1024;
/** An image file claiming more than this is not an image we can use (or a zip bomb). */
const MAX_ENTRY_BYTES = 256 * 1024 * 1024;
/** Compression methods fflate inflates: 0 stored, 8 deflate. */
const SUPPORTED_METHODS = new Set([0, 8]);

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The archive's entries (name, sizes, method), in central-directory order, without inflating. */
export function listZipEntries(zip: Uint8Array, zipName = 'zip archive'): UnzipFileInfo[] {
  const entries: UnzipFileInfo[] = [];
  try {
    unzipSync(zip, {
      filter: (info) => {
        entries.push({ ...info });
        return false;
      },
    });
  } catch (e) {
    throw new DatasetError(`${zipName} is not a readable zip archive (${message(e)}).`);
  }
  return entries;
}

/** Inflates the named entries; on failure, entry by entry so only the broken ones are lost. */
function inflateGroup(
  zip: Uint8Array,
  names: Set<string>,
  onBroken: (name: string, reason: string) => void,
): Map<string, Uint8Array> {
  try {
    return new Map(Object.entries(unzipSync(zip, { filter: (info) => names.has(info.name) })));
  } catch {
    const out = new Map<string, Uint8Array>();
    for (const name of names) {
      try {
        const one = unzipSync(zip, { filter: (info) => info.name === name });
        if (name in one) out.set(name, one[name]);
      } catch (e) {
        onBroken(name, `corrupt zip entry: ${message(e)}`);
      }
    }
    return out;
  }
}

/** Loads a .zip of images (class = first sub-folder); see ImageFolderOptions. */
export async function loadImageZip(
  zip: Uint8Array,
  opts: ImageFolderOptions & {
    zipName?: string;
    /** Inflated bytes per group (default 64 MB); smaller bounds memory further. */
    groupBytes?: number;
  },
): Promise<ImageDataset> {
  const zipName = opts.zipName ?? 'zip archive';
  const groupBytes = opts.groupBytes ?? GROUP_BYTES;
  const entries = listZipEntries(zip, zipName);
  const plan = planImageFolder(entries.map((e) => e.name));
  const info = new Map(entries.map((e) => [normalisePath(e.name), e]));
  const collector = new ImageCollector(plan, {
    ...opts,
    name: opts.name ?? (plan.root === 'images' ? zipName.replace(/\.zip$/i, '') : plan.root),
  });

  // Entries that cannot be inflated are reported before any work is spent on them.
  const usable = plan.images.filter((item) => {
    const e = info.get(item.path)!;
    if (!SUPPORTED_METHODS.has(e.compression)) {
      collector.skip(
        item.path,
        `compressed with method ${e.compression}; only stored (0) and deflate (8) are supported`,
      );
      return false;
    }
    if (e.originalSize > MAX_ENTRY_BYTES) {
      collector.skip(
        item.path,
        `claims ${e.originalSize} bytes, more than the ${MAX_ENTRY_BYTES}-byte limit for one image`,
      );
      return false;
    }
    return true;
  });

  for (let start = 0; start < usable.length;) {
    const group: typeof usable = [];
    let bytes = 0;
    while (
      start < usable.length &&
      (group.length === 0 || bytes + info.get(usable[start].path)!.originalSize <= groupBytes)
    ) {
      bytes += info.get(usable[start].path)!.originalSize;
      group.push(usable[start++]);
    }
    const rawName = (item: (typeof group)[number]) => info.get(item.path)!.name;
    const broken = new Set<string>();
    const inflated = inflateGroup(zip, new Set(group.map(rawName)), (name, reason) => {
      broken.add(name);
      collector.skip(normalisePath(name), reason);
    });
    for (const item of group) {
      const data = inflated.get(rawName(item));
      if (data) await collector.add(item, data);
      else if (!broken.has(rawName(item)))
        collector.skip(item.path, 'could not be extracted from the archive');
    }
  }
  return collector.finish();
}
