/**
 * The paper's Table 3 (ablations) and Table 4 (MLP head design) as data, at tiny scale: for
 * each table its variants (the columns), what each variant trains (setting overrides on top
 * of the grid's common settings), how its trunk is probed, and the numbers the paper
 * publishes for AIM-0.6B pre-trained and probed on ImageNet-1k, labelled as the paper's.
 *
 * The published numbers are copied from the paper's text (../shared/paper/aim-paper.md).
 * Tables 3a, 3d and 3f are images in that text, so their published numbers are not given
 * here (null) rather than guessed; the page and the exports say so.
 */
import type { PresetName } from '../model/config';
import { PRESETS } from '../model/config';

export const PAPER_TABLE_IDS = ['3a', '3b', '3c', '3d', '3e', '3f', '4a', '4b'] as const;
export type PaperTableId = (typeof PAPER_TABLE_IDS)[number];

/** The presets a grid trains: small enough that a table's cells finish on a laptop. */
export const PAPER_PRESETS = ['aim-micro', 'aim-tiny'] as const satisfies readonly PresetName[];
export type PaperPreset = (typeof PAPER_PRESETS)[number];

/** A run setting's value, by the setting's name in the run settings' schema. */
export type SettingOverrides = Readonly<Record<string, string | number | boolean>>;

/** The paper's AIM-0.6B top-1 (%) on IN-1k; null where the paper's text does not give it. */
export interface PublishedCell {
  linear: number | null;
  attentive: number | null;
}

export interface PaperVariant {
  /** Stable key: the cell's name in table.json, the grid state and the exports. */
  id: string;
  /** The column header as the paper prints it. */
  label: string;
  /** What this cell trains differently, on top of the table's common settings. */
  settings: (preset: PaperPreset) => SettingOverrides;
  /** Whether the probe runs the frozen trunk causally (3d) or bidirectionally (every other). */
  probeCausal: boolean;
  published: PublishedCell;
  /** The paper's default column (grey in the paper). */
  paperDefault?: boolean;
  /** What the column is at tiny scale, where that is not its label (e.g. "head width 64"). */
  tinyValue?: (preset: PaperPreset) => string;
}

export interface PaperTable {
  id: PaperTableId;
  /** The paper's sub-caption. */
  title: string;
  /** The header of the variants' row (the paper's first column). */
  variable: string;
  /** Settings every cell of the table trains with (e.g. causal pre-training for 3b). */
  common: SettingOverrides;
  variants: readonly PaperVariant[];
  /** What is left out or scaled, in sentences, shown under the table. */
  notes: readonly string[];
  /** Whether the table also shows the per-chunk loss curves (the paper's Figure 7). */
  chunkCurves: boolean;
}

export const PAPER_SOURCE =
  'El-Nouby et al., "Scalable Pre-training of Large Autoregressive Image Models" (ICML 2024): AIM-0.6B pre-trained and probed on ImageNet-1k';

const NOT_IN_TEXT = { linear: null, attentive: null } as const;

/** The preset's head width and depth (the paper's default head is 2048 wide, 12 deep). */
const presetHead = (preset: PaperPreset) => PRESETS[preset].head;

/**
 * Table 4a's widths 512 / 1024 / 2048 are a quarter, half and all of the paper's default
 * head width; at tiny scale the same fractions of the preset's head width.
 */
const headWidthAt = (fraction: number) => (preset: PaperPreset) =>
  Math.max(4, Math.round((presetHead(preset).width * fraction) / 4) * 4);

/**
 * Table 4b's depths 6 / 8 / 12 are 1/2, 2/3 and all of the paper's default 12 blocks; at tiny
 * scale the same fractions of the preset's head depth, or 1 / 2 / 3 blocks where the preset's
 * head is too shallow for three different depths (aim-micro's single block).
 */
function headDepthAt(column: 0 | 1 | 2) {
  return (preset: PaperPreset) => {
    const depth = presetHead(preset).depth;
    if (depth < 3) return column + 1;
    return Math.max(1, Math.round(depth * [1 / 2, 2 / 3, 1][column]));
  };
}

/**
 * Table 3f: the preset's trunk (wide: the paper's Llama-like proportions) against a deeper,
 * narrower trunk with about the same parameters (twice the blocks, about width / √2, rounded
 * so that the heads and the 2-D sin-cos positions divide it).
 */
export function deeperTrunk(preset: PaperPreset): { width: number; depth: number } {
  const { width, depth, heads } = PRESETS[preset];
  const step = lcm(heads, 4);
  return { width: Math.max(step, Math.round(width / Math.SQRT2 / step) * step), depth: depth * 2 };
}

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a * b) / gcd(a, b);
}

export const PAPER_TABLES: Readonly<Record<PaperTableId, PaperTable>> = {
  '3a': {
    id: '3a',
    title: '(a) Targets',
    variable: 'target',
    common: {},
    variants: [
      {
        id: 'raw',
        label: 'pixels',
        settings: () => ({ targets: 'raw' }),
        probeCausal: false,
        published: NOT_IN_TEXT,
      },
      {
        id: 'normalized',
        label: 'norm. pixels',
        settings: () => ({ targets: 'normalized' }),
        probeCausal: false,
        published: NOT_IN_TEXT,
        paperDefault: true,
      },
    ],
    notes: [
      'The discrete-token target (k-means / dVAE codes with a cross-entropy loss) is left out: the playground predicts pixels only.',
      'The paper’s numbers for this table are an image in the paper’s text, not given here.',
    ],
    chunkCurves: false,
  },
  '3b': {
    id: '3b',
    title: '(b) Autoregression Pattern (causal)',
    variable: 'pattern',
    // The paper's 3b is causal pre-training (prefix S = 1), not its default prefix attention.
    common: { prefix: false },
    variants: (['raster', 'spiral', 'checkerboard', 'random'] as const).map((ordering) => ({
      id: ordering,
      label: ordering,
      settings: () => ({ ordering }),
      probeCausal: false,
      published: {
        raster: { linear: 69.5, attentive: 77.4 },
        spiral: { linear: 67.7, attentive: 76.3 },
        checkerboard: { linear: 68.2, attentive: 76.0 },
        random: { linear: 65.8, attentive: 75.7 },
      }[ordering],
      paperDefault: ordering === 'raster',
    })),
    notes: [
      'Pre-training is causal (prefix S = 1), as the paper’s Table 3b.',
      'Probes run the frozen trunk bidirectionally, where the patch order plays no part, so every ordering is probed alike.',
    ],
    chunkCurves: true,
  },
  '3c': {
    id: '3c',
    title: '(c) Crop Scale',
    variable: 'crop scale',
    common: {},
    variants: [
      { scale: 0.08, published: { linear: 68.4, attentive: 77.7 } },
      { scale: 0.4, published: { linear: 70.0, attentive: 78.2 } },
      { scale: 1.0, published: { linear: 49.6, attentive: 63.5 } },
    ].map(({ scale, published }) => ({
      id: String(scale),
      label: String(scale),
      settings: () => ({ cropScaleMin: scale }),
      probeCausal: false,
      published,
      paperDefault: scale === 0.4,
    })),
    notes: ['The crop scale is the lower bound of RandomResizedCrop’s area fraction.'],
    chunkCurves: false,
  },
  '3d': {
    id: '3d',
    title: '(d) Attention Structure',
    variable: 'pre-training / probing attention',
    common: {},
    variants: (
      [
        ['causal', 'causal'],
        ['causal', 'bidirectional'],
        ['prefix', 'causal'],
        ['prefix', 'bidirectional'],
      ] as const
    ).map(([pre, probe]) => ({
      id: `${pre}-${probe}`,
      label: `${pre} / ${probe}`,
      settings: () => ({ prefix: pre === 'prefix' }),
      probeCausal: probe === 'causal',
      published: NOT_IN_TEXT,
      paperDefault: pre === 'prefix' && probe === 'bidirectional',
    })),
    notes: [
      'Two pre-trainings (causal, prefix), each probed causally and bidirectionally: the cells that share a pre-training share its trunk.',
      'The paper’s numbers for this table are an image in the paper’s text, not given here.',
    ],
    chunkCurves: false,
  },
  '3e': {
    id: '3e',
    title: '(e) Head Design',
    variable: 'head',
    common: {},
    variants: [
      {
        id: 'none',
        label: 'None',
        settings: () => ({ headKind: 'none' }),
        probeCausal: false,
        published: { linear: 64.0, attentive: 75.4 },
      },
      {
        id: 'mlp',
        label: 'MLP',
        settings: () => ({ headKind: 'mlp' }),
        probeCausal: false,
        published: { linear: 70.0, attentive: 78.2 },
        paperDefault: true,
      },
    ],
    notes: [
      'The Transformer head (paper: 70.5 linear, 78.5 attentive) is left out: the playground’s heads are none or the MLP.',
      'None: the trunk’s normalised output projected straight to pixels.',
    ],
    chunkCurves: false,
  },
  '3f': {
    id: '3f',
    title: '(f) Architecture',
    variable: 'trunk',
    common: {},
    variants: [
      {
        id: 'wider',
        label: 'wider',
        settings: (preset) => ({ width: PRESETS[preset].width, depth: PRESETS[preset].depth }),
        probeCausal: false,
        published: NOT_IN_TEXT,
        paperDefault: true,
        tinyValue: (preset) => `${PRESETS[preset].width} × ${PRESETS[preset].depth}`,
      },
      {
        id: 'deeper',
        label: 'deeper',
        settings: (preset) => deeperTrunk(preset),
        probeCausal: false,
        published: NOT_IN_TEXT,
        tinyValue: (preset) => `${deeperTrunk(preset).width} × ${deeperTrunk(preset).depth}`,
      },
    ],
    notes: [
      'At tiny scale: the preset’s trunk (width × depth) against one twice as deep and about √2 narrower, with about the same parameters.',
      'The paper’s numbers for this table are an image in the paper’s text, not given here.',
    ],
    chunkCurves: false,
  },
  '4a': {
    id: '4a',
    title: '(a) MLP width',
    variable: 'width',
    common: {},
    variants: (
      [
        [512, 1 / 4, { linear: 69.4, attentive: 77.7 }],
        [1024, 1 / 2, { linear: 69.6, attentive: 78.1 }],
        [2048, 1, { linear: 70.0, attentive: 78.2 }],
      ] as const
    ).map(([paper, fraction, published]) => ({
      id: String(paper),
      label: String(paper),
      settings: (preset: PaperPreset) => ({ headWidth: headWidthAt(fraction)(preset) }),
      probeCausal: false,
      published,
      paperDefault: paper === 2048,
      tinyValue: (preset: PaperPreset) => `head width ${headWidthAt(fraction)(preset)}`,
    })),
    notes: [
      'The paper’s widths 512 / 1024 / 2048 are a quarter, half and all of its default head width: at tiny scale the same fractions of the preset’s head width, at the preset’s head depth.',
    ],
    chunkCurves: false,
  },
  '4b': {
    id: '4b',
    title: '(b) MLP depth',
    variable: 'depth',
    common: {},
    variants: (
      [
        [6, 0, { linear: 65.3, attentive: 76.2 }],
        [8, 1, { linear: 68.1, attentive: 77.1 }],
        [12, 2, { linear: 70.0, attentive: 78.2 }],
      ] as const
    ).map(([paper, column, published]) => ({
      id: String(paper),
      label: String(paper),
      settings: (preset: PaperPreset) => ({ headDepth: headDepthAt(column)(preset) }),
      probeCausal: false,
      published,
      paperDefault: paper === 12,
      tinyValue: (preset: PaperPreset) => `${headDepthAt(column)(preset)} blocks`,
    })),
    notes: [
      'The paper’s depths 6 / 8 / 12 are 1/2, 2/3 and all of its default 12 blocks: at tiny scale the same fractions of the preset’s head depth (aim-micro, one block by default: 1 / 2 / 3 blocks), at the preset’s head width.',
    ],
    chunkCurves: false,
  },
};

/** The table `id`, or an error sentence naming the tables there are. */
export function paperTable(id: string): PaperTable {
  if (!(PAPER_TABLE_IDS as readonly string[]).includes(id))
    throw new RangeError(`Unknown table "${id}": use ${PAPER_TABLE_IDS.join(', ')}.`);
  return PAPER_TABLES[id as PaperTableId];
}

/** Which paper table a table id is (3a–3f: Table 3, 4a–4b: Table 4). */
export function paperTableName(id: PaperTableId): string {
  return `Table ${id[0]}${id.slice(1)}`;
}
