/**
 * The run settings' schema: one entry per setting, from which everything else is derived —
 * the RunSettings type and its defaults, validation with bounds (src/training/settings.ts),
 * the page address (src/ui/urlSettings.ts), the settings panel (src/ui/SettingsPanel.tsx),
 * the headless CLI's flags and usage (src/cli/train.node.ts) and the runs table's
 * differences (src/ui/runRecords.ts). Adding a setting is adding an entry here.
 *
 * The order of the entries is the order of the address's parameters, of the panel's fields
 * within each group and of the CLI's usage lines.
 */
import {
  HEAD_KINDS,
  numPatches,
  PIXEL_TARGETS,
  PRESETS,
  type HeadKind,
  type PixelTargets,
  type PresetName,
} from '../model/config';
import { ORDERINGS, type Ordering } from '../model/orderings';
import { DEFAULT_WARMUP } from './schedule';

/** Where the settings panel draws a setting: its main grid, under "More settings", or itself. */
export type PanelGroup = 'main' | 'more' | 'custom';

interface SettingBase<T> {
  /** The panel control's label. */
  label: string;
  /** What sentences (validation messages) call it, when the label is not a noun phrase. */
  noun?: string;
  /** What it does, shown as the control's tooltip and in the CLI's usage. */
  help: string;
  default: T;
  /**
   * Only how a run is watched (evaluation cadence and size, checkpoint cadence), not what it
   * learns: the runs table leaves these out of what runs "differ in".
   */
  bookkeeping?: boolean;
  /** The AIM v1 recipe's value (ml-aim / ml-l3m), where the paper has one. */
  paper?: T;
  /** The headless CLI's flag, without the dashes. */
  flag: string;
  /** The panel control's data-testid. */
  testId: string;
  panel: PanelGroup;
}

/** The values a number may take (a setting's, or a command-line flag's). */
export interface NumericBounds {
  integer: boolean;
  min: number;
  /** true: the value must be above `min`, not equal to it. */
  minExclusive?: boolean;
  /** The largest value; a function when it depends on the model preset. */
  max?: number | ((preset: PresetName) => number);
  maxExclusive?: boolean;
}

export interface NumberSetting extends SettingBase<number>, NumericBounds {
  kind: 'number';
  /** Why the bound is what it is, for a bound that depends on the preset. */
  maxReason?: (preset: PresetName) => string;
  /** What one unit is (shown in the CLI's usage). */
  units?: string;
  /** A short line under the panel's field. */
  hint?: string;
  /** The default follows the preset (until the user changes it). */
  presetDefault?: (preset: PresetName) => number;
}

export interface BooleanSetting extends SettingBase<boolean> {
  kind: 'boolean';
  /** The value the CLI's flag sets (`--causal` sets prefix to false). */
  flagSets: boolean;
}

export interface ChoiceSetting<T extends string = string> extends SettingBase<T> {
  kind: 'choice';
  choices: readonly T[];
  /** What the panel's options say after each value, where the value alone is terse. */
  choiceNotes?: Readonly<Record<T, string>>;
  /** The CLI's placeholder for the value. */
  units?: string;
}

export type SettingSpec = NumberSetting | BooleanSetting | ChoiceSetting;

const number = (spec: Omit<NumberSetting, 'kind'>): NumberSetting => ({ kind: 'number', ...spec });
const boolean = (spec: Omit<BooleanSetting, 'kind'>): BooleanSetting => ({
  kind: 'boolean',
  ...spec,
});
const choice = <T extends string>(spec: Omit<ChoiceSetting<T>, 'kind'>): ChoiceSetting<T> => ({
  kind: 'choice',
  ...spec,
});

const STEPS_MAX = 1_000_000;

export const SETTINGS_SCHEMA = {
  preset: choice<PresetName>({
    label: 'Model preset',
    noun: 'preset',
    help: 'The model: image and patch size, and the trunk and head shape its width, depth, heads and head settings start from (changing one makes the model a custom one).',
    default: 'aim-tiny',
    choices: Object.keys(PRESETS) as PresetName[],
    flag: 'preset',
    testId: 'preset',
    panel: 'custom',
  }),
  ordering: choice<Ordering>({
    label: 'Patch ordering',
    noun: 'ordering',
    help: 'The order in which the model predicts the patches (the paper’s Table 3b).',
    default: 'raster',
    paper: 'raster',
    choices: ORDERINGS,
    flag: 'ordering',
    testId: 'ordering',
    panel: 'custom',
  }),
  batch: number({
    label: 'Batch',
    help: 'Images per optimizer step.',
    default: 64,
    paper: 4096,
    integer: true,
    min: 1,
    max: 4096,
    units: 'images',
    flag: 'batch',
    testId: 'batch',
    panel: 'main',
  }),
  steps: number({
    label: 'Steps',
    noun: 'number of steps',
    help: 'Optimizer steps of the run (the paper: 1.25 M for AIM-1B and larger).',
    default: 2000,
    integer: true,
    min: 1,
    max: STEPS_MAX,
    flag: 'steps',
    testId: 'steps',
    panel: 'main',
  }),
  lr: number({
    label: 'Learning rate',
    help: 'Peak learning rate of AdamW, reached after the warm-up and decayed by a cosine to 0.',
    default: 1e-3,
    paper: 1e-3,
    integer: false,
    min: 0,
    minExclusive: true,
    max: 1,
    maxExclusive: true,
    flag: 'lr',
    testId: 'lr',
    panel: 'main',
  }),
  warmupFraction: number({
    label: 'Warm-up fraction',
    help: `Fraction of the steps spent warming the learning rate up linearly from ${DEFAULT_WARMUP.warmupStartLr}.`,
    default: DEFAULT_WARMUP.warmupFraction,
    paper: DEFAULT_WARMUP.warmupFraction,
    integer: false,
    min: 0,
    max: 1,
    maxExclusive: true,
    units: 'fraction',
    flag: 'warmup',
    testId: 'warmup',
    panel: 'main',
  }),
  prefix: boolean({
    label: 'Prefix attention (off: the causal baseline)',
    noun: 'prefix attention',
    help: 'Prefix-causal attention with a prefix length S ~ U{1…K−1}; off: the causal baseline (S = 1), as the paper’s ordering ablation (Table 3b) was pre-trained.',
    default: true,
    paper: true,
    flag: 'causal',
    flagSets: false,
    testId: 'prefix',
    panel: 'main',
  }),
  targets: choice<PixelTargets>({
    label: 'Targets',
    noun: 'targets',
    help: 'What the head predicts (the paper’s Table 3a): each patch normalised by its own mean and variance (ml-l3m’s norm_pix_loss), or the raw pixels. The discrete-token (dVAE) variant is not built.',
    default: 'normalized',
    paper: 'normalized',
    choices: PIXEL_TARGETS,
    choiceNotes: { normalized: 'each patch normalised (norm_pix_loss)', raw: 'raw pixels' },
    flag: 'targets',
    testId: 'targets',
    panel: 'main',
  }),
  headKind: choice<HeadKind>({
    label: 'Prediction head',
    noun: 'prediction head',
    help: 'The head after the trunk (the paper’s Table 3e): ml-l3m’s MLP head, or none — the trunk’s normalised output projected straight to the pixels by one Linear. The Transformer head is not built.',
    default: 'mlp',
    paper: 'mlp',
    choices: HEAD_KINDS,
    choiceNotes: { mlp: 'ml-l3m’s MLP head', none: 'one Linear to the pixels' },
    flag: 'head',
    testId: 'head-kind',
    panel: 'main',
  }),
  headDepth: number({
    label: 'Head depth',
    help: 'Residual MLP blocks of the prediction head (overrides the preset’s).',
    default: PRESETS['aim-tiny'].head.depth,
    paper: 12,
    integer: true,
    min: 0,
    max: 24,
    units: 'blocks',
    presetDefault: (preset) => PRESETS[preset].head.depth,
    flag: 'head-depth',
    testId: 'head-depth',
    panel: 'main',
  }),
  headWidth: number({
    label: 'Head width',
    help: 'Width of the prediction head’s MLP blocks (the paper’s Table 4; overrides the preset’s).',
    default: PRESETS['aim-tiny'].head.width,
    paper: 2048,
    integer: true,
    min: 4,
    max: 4096,
    presetDefault: (preset) => PRESETS[preset].head.width,
    flag: 'head-width',
    testId: 'head-width',
    panel: 'main',
  }),
  width: number({
    label: 'Trunk width',
    noun: 'trunk width',
    help: 'The trunk’s embedding width D (the paper’s Table 3f; overrides the preset’s). A multiple of 4 and of the heads.',
    default: PRESETS['aim-tiny'].width,
    integer: true,
    min: 4,
    max: 2048,
    presetDefault: (preset) => PRESETS[preset].width,
    flag: 'width',
    testId: 'width',
    panel: 'main',
  }),
  depth: number({
    label: 'Trunk depth',
    noun: 'trunk depth',
    help: 'Transformer blocks of the trunk (the paper’s Table 3f; overrides the preset’s).',
    default: PRESETS['aim-tiny'].depth,
    integer: true,
    min: 1,
    max: 48,
    units: 'blocks',
    presetDefault: (preset) => PRESETS[preset].depth,
    flag: 'depth',
    testId: 'depth',
    panel: 'main',
  }),
  heads: number({
    label: 'Attention heads',
    noun: 'number of attention heads',
    help: 'Attention heads of each trunk block (overrides the preset’s); width ÷ heads is the head dimension, at most 128.',
    default: PRESETS['aim-tiny'].heads,
    integer: true,
    min: 1,
    max: 64,
    presetDefault: (preset) => PRESETS[preset].heads,
    flag: 'heads',
    testId: 'heads',
    panel: 'main',
  }),
  cropScaleMin: number({
    label: 'Crop scale (min)',
    noun: 'crop scale (min)',
    help: 'Lower bound of RandomResizedCrop’s area fraction.',
    default: 0.4,
    paper: 0.4,
    integer: false,
    min: 0,
    minExclusive: true,
    max: 1,
    units: 'fraction',
    flag: 'crop-scale',
    testId: 'crop-scale',
    panel: 'main',
  }),
  seed: number({
    label: 'Seed',
    help: 'Seeds the initialisation, the data order, the augmentation and the prefix lengths.',
    default: 0,
    integer: true,
    min: 0,
    max: 0xffffffff,
    flag: 'seed',
    testId: 'seed',
    panel: 'main',
  }),
  weightDecay: number({
    label: 'Weight decay',
    help: 'AdamW’s decoupled weight decay (not on biases, positional embeddings or norms).',
    default: 0.05,
    paper: 0.05,
    integer: false,
    min: 0,
    max: 1,
    flag: 'weight-decay',
    testId: 'weight-decay',
    panel: 'more',
  }),
  clipNorm: number({
    label: 'Clip norm',
    help: 'Global gradient-norm clip.',
    default: 1,
    paper: 1,
    integer: false,
    min: 0,
    minExclusive: true,
    max: 1e6,
    flag: 'clip',
    testId: 'clip-norm',
    panel: 'more',
  }),
  colorJitter: boolean({
    label: 'Colour jitter',
    noun: 'colour jitter',
    help: 'ColorJitter(0.4, 0.4, 0.2, 0.1) with p 0.8 (ml-l3m’s configuration).',
    default: false,
    paper: true,
    flag: 'color-jitter',
    flagSets: true,
    testId: 'color-jitter',
    panel: 'more',
  }),
  headExtraNormTerm: boolean({
    label: 'ml-l3m head (extra x + LN(x) term)',
    noun: 'ml-l3m head term',
    help: 'ml-l3m’s extra x + LN1(x) term in each head block; the paper uses only x + MLP(LN(x)).',
    default: false,
    paper: false,
    flag: 'head-extra-norm',
    flagSets: true,
    testId: 'head-extra-norm',
    panel: 'more',
  }),
  evalEvery: number({
    label: 'Evaluate every',
    noun: 'evaluation interval',
    help: 'Validation loss and per-chunk loss every N steps (and at the end).',
    default: 100,
    integer: true,
    min: 1,
    max: STEPS_MAX,
    units: 'steps',
    flag: 'eval-every',
    testId: 'eval-every',
    bookkeeping: true,
    panel: 'more',
  }),
  evalImages: number({
    label: 'Eval images',
    noun: 'number of eval images',
    help: 'Validation images per evaluation (rounded up to whole batches).',
    default: 512,
    integer: true,
    min: 1,
    max: 100_000,
    units: 'images',
    flag: 'eval-images',
    testId: 'eval-images',
    bookkeeping: true,
    panel: 'more',
  }),
  chunks: number({
    label: 'Loss chunks',
    noun: 'number of loss chunks',
    help: 'Chunks of the sequence for the per-chunk validation loss (the paper’s Figure 7).',
    default: 8,
    integer: true,
    min: 1,
    // Targets are the patches 2 … K: more chunks than targets would leave some empty.
    max: (preset) => numPatches(PRESETS[preset]) - 1,
    maxReason: (preset) =>
      `${preset} predicts ${numPatches(PRESETS[preset]) - 1} patches per image`,
    flag: 'chunks',
    testId: 'chunks',
    panel: 'more',
  }),
  checkpointEvery: number({
    label: 'Checkpoint every',
    noun: 'checkpoint interval',
    help: 'Save a checkpoint every N steps (0: only at the end).',
    default: 200,
    integer: true,
    min: 0,
    max: STEPS_MAX,
    units: 'steps',
    hint: 'steps; 0: only at the end',
    flag: 'checkpoint-every',
    testId: 'checkpoint-every',
    bookkeeping: true,
    panel: 'more',
  }),
  probeEvery: number({
    label: 'Probe every',
    noun: 'probe interval',
    help: 'Every N steps (and at the last) train a linear and an attentive probe on the frozen trunk, run bidirectionally, and record their held-out top-1 beside the validation loss (the paper’s Figure 4). Training waits while the probes train. 0: never.',
    default: 0,
    integer: true,
    min: 0,
    max: STEPS_MAX,
    units: 'steps',
    hint: 'steps; 0: off',
    flag: 'probe-every',
    testId: 'probe-every',
    bookkeeping: true,
    panel: 'more',
  }),
  probeImages: number({
    label: 'Probe images',
    noun: 'number of probe images',
    help: 'Labelled training images the probes learn from (at most the dataset’s); they are tested on the first “Eval images” validation images. A quick recipe: PROBE_RECIPE with fewer epochs (src/paper/figure4Probe.ts).',
    default: 256,
    integer: true,
    // The linear probe's BatchNorm needs a batch of two.
    min: 2,
    // Held on the CPU as float32 at the model's size while the run lasts (10⁴ at 32 px: 123 MB).
    max: 10_000,
    units: 'images',
    flag: 'probe-images',
    testId: 'probe-images',
    bookkeeping: true,
    panel: 'more',
  }),
} satisfies Record<string, SettingSpec>;

type Schema = typeof SETTINGS_SCHEMA;

/** Everything a run is configured by, as plain data: one field per schema entry. */
export type RunSettings = { -readonly [K in keyof Schema]: Schema[K]['default'] };

export type SettingKey = keyof RunSettings;

/** The setting names in schema order. */
export const SETTING_KEYS = Object.keys(SETTINGS_SCHEMA) as SettingKey[];

/** The schema entry of `key`, widened to the union (for code that walks every setting). */
export function settingSpec(key: SettingKey): SettingSpec {
  return SETTINGS_SCHEMA[key];
}

/** The settings whose values are numbers. */
export type NumberKey = {
  [K in SettingKey]: RunSettings[K] extends number ? K : never;
}[SettingKey];
export type BooleanKey = {
  [K in SettingKey]: RunSettings[K] extends boolean ? K : never;
}[SettingKey];
