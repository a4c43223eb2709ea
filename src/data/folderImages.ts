/**
 * User images from a dropped folder (or a .zip, src/data/zipImages.ts): class = first
 * sub-folder, as torchvision's ImageFolder (class names sorted, label = position). Each image
 * is decoded by an injected decoder (the browser's createImageBitmap in the app, a fake in
 * Node tests), converted to RGB (alpha dropped, as PIL's convert('RGB')), and stored as a
 * uint8 storeSize² square: shorter side resized to storeSize with PIL's bicubic, centre-cropped.
 *
 * Layout rules (paths '/'-separated; the folders every image shares are stripped first):
 * - root/<class>/…/image.png → class <class>;
 * - root/{train,val}/<class>/…  (also training/validation/valid/test) → that split is kept;
 * - all images in one folder → one class named after it (enough for pre-training).
 * Images beside class folders, non-image files, undecodable or oversized images are skipped
 * and listed in the report with a reason; macOS/Windows metadata and dotfiles are ignored.
 */
import { mulberry32 } from '../reference/random';
import {
  checkDataset,
  DatasetError,
  type ImageDataset,
  type LoadReport,
  type RgbImage,
  RgbImageBuilder,
  type SkippedFile,
  splitTrainVal,
} from './dataset';
import { resizeAndCentreCrop } from './resize';

export interface DecodedImage {
  width: number;
  height: number;
  /** [height, width, 4] RGBA, row-major, not premultiplied. */
  rgba: Uint8Array | Uint8ClampedArray;
}

/** Decodes an encoded image file; throws (with a reason) when it cannot. */
export type ImageDecoder = (bytes: Uint8Array, name: string) => Promise<DecodedImage>;

export interface ImageFolderOptions {
  decode: ImageDecoder;
  /** Side of the stored square images (the model resolution, or larger for crop headroom). */
  storeSize: number;
  /** Share held out for validation when the folder has no train/val split (default 0.1). */
  valFraction?: number;
  /** Seed of that split (default 0). */
  seed?: number;
  /** Dataset name for the UI (default: the common folder's name). */
  name?: string;
  /** Images larger than this many pixels are skipped (default 40 M, ≈ 160 MB of RGBA). */
  maxPixels?: number;
  /** Called after each file with (files done, files to do). */
  onProgress?: (done: number, total: number) => void;
}

export interface ImageFile {
  path: string;
  bytes: Uint8Array;
}

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'gif', 'bmp', 'webp', 'avif'] as const;
export const DEFAULT_MAX_PIXELS = 40_000_000;
const TRAIN_FOLDERS = new Set(['train', 'training']);
const VAL_FOLDERS = new Set(['val', 'valid', 'validation', 'test', 'testing']);
const SYSTEM_FILES = new Set(['__macosx', 'thumbs.db', 'desktop.ini']);

export interface PlannedImage {
  path: string;
  label: number;
  /** The split the folder layout gives, or null when the loader splits. */
  split: 'train' | 'val' | null;
}

export interface FolderPlan {
  /** Dataset name: the shared folder's name, or 'images'. */
  root: string;
  classes: string[];
  images: PlannedImage[];
  skipped: SkippedFile[];
  ignored: number;
}

export function normalisePath(path: string): string {
  return path.replace(/\\/g, '/').replace(/^(\.\/|\/)+/, '');
}

/** Decides, from the paths alone, which files are images of which class (and split). */
export function planImageFolder(paths: readonly string[]): FolderPlan {
  const skipped: SkippedFile[] = [];
  let ignored = 0;
  const candidates: { path: string; dirs: string[] }[] = [];
  for (const raw of paths) {
    const path = normalisePath(raw);
    const parts = path.split('/');
    const file = parts[parts.length - 1];
    if (file === '' || parts.some((p) => p.startsWith('.') || SYSTEM_FILES.has(p.toLowerCase()))) {
      ignored++; // a directory entry, a dotfile (incl. macOS ._ forks) or OS metadata
      continue;
    }
    const dot = file.lastIndexOf('.');
    const ext = dot > 0 ? file.slice(dot + 1).toLowerCase() : '';
    if (!(IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
      skipped.push({
        name: path,
        reason: `not an image file (${ext ? `.${ext}` : 'no extension'})`,
      });
      continue;
    }
    candidates.push({ path, dirs: parts.slice(0, -1) });
  }
  // Strip the folders every image shares (the dropped folder itself, a zip's top folder).
  let common = candidates.length > 0 ? candidates[0].dirs.length : 0;
  for (const c of candidates) {
    let k = 0;
    while (k < common && k < c.dirs.length && c.dirs[k] === candidates[0].dirs[k]) k++;
    common = k;
  }
  const shared = candidates.length > 0 ? candidates[0].dirs.slice(0, common) : [];
  const root = shared.length > 0 ? shared[shared.length - 1] : 'images';
  const rest = candidates.map((c) => ({ path: c.path, dirs: c.dirs.slice(common) }));

  const firstDirs = new Set(
    rest.filter((r) => r.dirs.length > 0).map((r) => r.dirs[0].toLowerCase()),
  );
  const presplit =
    [...firstDirs].every((d) => TRAIN_FOLDERS.has(d) || VAL_FOLDERS.has(d)) &&
    [...firstDirs].some((d) => TRAIN_FOLDERS.has(d)) &&
    [...firstDirs].some((d) => VAL_FOLDERS.has(d));
  const classDepth = presplit ? 1 : 0;
  const allFlat = !presplit && rest.every((r) => r.dirs.length === 0);

  const assigned: { path: string; cls: string; split: 'train' | 'val' | null }[] = [];
  for (const r of rest) {
    if (allFlat) {
      assigned.push({ path: r.path, cls: root, split: null });
    } else if (r.dirs.length <= classDepth) {
      skipped.push({
        name: r.path,
        reason: presplit
          ? 'not inside a class folder of train/ or val/'
          : 'not inside a class folder',
      });
    } else {
      const split = presplit
        ? TRAIN_FOLDERS.has(r.dirs[0].toLowerCase())
          ? 'train'
          : 'val'
        : null;
      assigned.push({ path: r.path, cls: r.dirs[classDepth], split });
    }
  }
  // ImageFolder's order: sorted class names; label = index.
  const classes = [...new Set(assigned.map((a) => a.cls))].sort();
  const labelOf = new Map(classes.map((c, i) => [c, i]));
  const images = assigned.map((a) => ({
    path: a.path,
    label: labelOf.get(a.cls)!,
    split: a.split,
  }));
  return { root, classes, images, skipped, ignored };
}

/** RGBA → RGB, alpha dropped. */
export function rgbaToRgb(img: DecodedImage): RgbImage {
  const n = img.width * img.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[3 * i] = img.rgba[4 * i];
    data[3 * i + 1] = img.rgba[4 * i + 1];
    data[3 * i + 2] = img.rgba[4 * i + 2];
  }
  return { data, height: img.height, width: img.width };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Decodes, checks and stores the planned images one at a time, then builds the dataset.
 * Shared by the folder and zip loaders, which differ only in how they get each file's bytes.
 */
export class ImageCollector {
  private readonly builders: Record<'train' | 'val' | 'all', RgbImageBuilder>;
  private readonly report: LoadReport;
  private done = 0;

  constructor(
    private readonly plan: FolderPlan,
    private readonly opts: ImageFolderOptions,
  ) {
    const s = opts.storeSize;
    if (!Number.isInteger(s) || s < 1)
      throw new RangeError(`storeSize ${s} must be a positive integer`);
    const count = (split: 'train' | 'val' | null) =>
      plan.images.filter((p) => p.split === split).length;
    this.builders = {
      train: new RgbImageBuilder(s, s, count('train')),
      val: new RgbImageBuilder(s, s, count('val')),
      all: new RgbImageBuilder(s, s, count(null)),
    };
    this.report = { accepted: 0, skipped: [...plan.skipped], ignored: plan.ignored };
  }

  skip(name: string, reason: string): void {
    this.report.skipped.push({ name, reason });
    this.progress();
  }

  private progress(): void {
    this.done++;
    this.opts.onProgress?.(this.done, this.plan.images.length);
  }

  /** Decodes and stores one planned image; a failure is reported, never thrown. */
  async add(item: PlannedImage, bytes: Uint8Array): Promise<void> {
    let decoded: DecodedImage;
    try {
      decoded = await this.opts.decode(bytes, item.path);
    } catch (e) {
      this.skip(item.path, `cannot be decoded: ${message(e)}`);
      return;
    }
    const { width, height, rgba } = decoded ?? {};
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      this.skip(item.path, `decoded to an invalid size ${width}×${height}`);
      return;
    }
    if (width * height > (this.opts.maxPixels ?? DEFAULT_MAX_PIXELS)) {
      this.skip(
        item.path,
        `${width}×${height} is larger than the ${this.opts.maxPixels ?? DEFAULT_MAX_PIXELS}-pixel limit`,
      );
      return;
    }
    if (!rgba || rgba.length !== width * height * 4) {
      this.skip(
        item.path,
        `decoder returned ${rgba?.length ?? 0} bytes for ${width}×${height} RGBA`,
      );
      return;
    }
    try {
      const stored = resizeAndCentreCrop(rgbaToRgb(decoded), this.opts.storeSize);
      this.builders[item.split ?? 'all'].add(stored, item.label);
    } catch (e) {
      this.skip(item.path, `cannot be stored: ${message(e)}`);
      return;
    }
    this.report.accepted++;
    this.progress();
  }

  /** The dataset, or a DatasetError saying why there is none. */
  finish(): ImageDataset {
    const name = this.opts.name ?? this.plan.root;
    const { report } = this;
    if (report.accepted === 0) {
      const first = report.skipped[0];
      const why = first
        ? ` (${report.skipped.length} skipped; e.g. ${first.name}: ${first.reason})`
        : '';
      throw new DatasetError(
        `No usable images in ${name}${why}. Drop a folder (or .zip) of PNG, JPEG, GIF, BMP, WebP or AVIF images, one sub-folder per class.`,
      );
    }
    const random = mulberry32(this.opts.seed ?? 0);
    const valFraction = this.opts.valFraction ?? 0.1;
    let train = this.builders.train.build();
    let val = this.builders.val.build();
    const all = this.builders.all.build();
    if (all.count > 0) {
      ({ train, val } = splitTrainVal(all, valFraction, random));
    } else if (val.count === 0 || train.count === 0) {
      // A train/val layout with one side empty: split what there is.
      ({ train, val } = splitTrainVal(train.count > 0 ? train : val, valFraction, random));
    }
    return checkDataset({ name, classes: this.plan.classes, train, val, report });
  }
}

/** Loads a dropped folder: files as {path (relative, e.g. webkitRelativePath), bytes}. */
export async function loadImageFolder(
  files: readonly ImageFile[],
  opts: ImageFolderOptions,
): Promise<ImageDataset> {
  const plan = planImageFolder(files.map((f) => f.path));
  const byPath = new Map(files.map((f) => [normalisePath(f.path), f.bytes]));
  const collector = new ImageCollector(plan, opts);
  for (const item of plan.images) await collector.add(item, byPath.get(item.path)!);
  return collector.finish();
}
