/**
 * A playground run's settings as an ml-l3m spec (l3mConfig.ts), with where each setting went:
 * `SETTING_COVERAGE` has one entry per run setting (TypeScript refuses a missing one, and a
 * test walks the schema), each saying the config path that carries it or why it is not
 * carried over.
 */
import { AIM_ADAMW } from '../kernels/adamw';
import { gridSize, numPatches, type AimConfig } from '../model/config';
import { patchOrder } from '../model/orderings';
import { DEFAULT_WARMUP } from '../training/schedule';
import { modelConfigFor, validateSettings, type RunSettings } from '../training/settings';
import type { SettingKey } from '../training/settingsSchema';
import { recipeSpec, type L3mSpec } from './l3mConfig';

export interface ScaleOutOptions {
  /** GPUs in all (nodes × GPUs per node) the config's per-GPU batch is computed for. */
  worldSize: number;
  /** Largest batch one GPU runs at once; more is gradient accumulation (ml-l3m chunks the per-GPU batch). */
  microBatch?: number;
  dataTrain: string;
  dataVal: string;
  /** Where the warm-start state dict will be (the config's model.checkpoint), or null. */
  checkpoint: string | null;
  dtype: 'bfloat16' | 'float32';
}

export interface Coverage {
  /** The config path(s) that carry it. */
  carried?: string;
  /** Why it is not (fully) carried over (config header and README). */
  notCarried?: string;
  /** The same in a few words, for the one-line summary. */
  brief?: string;
}

interface CoverageContext {
  s: RunSettings;
  config: AimConfig;
  hasCheckpoint: boolean;
}

const ORDERING_LIMIT =
  'ml-l3m’s AIM v1 path cannot express a non-raster ordering: its RasterPixelLoss permutes only the outputs and targets, while the trunk’s prefix-causal mask stays in raster order (a token would see the patch it predicts). The config adds two small token-permuting blocks (playground_orderings.py, in the bundle) around the trunk, with the tab’s exact order in constants.patch_order.';

/** Every run setting: where it goes in the config, or why it does not. */
export const SETTING_COVERAGE: Record<SettingKey, (c: CoverageContext) => Coverage> = {
  preset: () => ({ carried: 'constants.img_size, constants.patch_size' }),
  ordering: ({ s }) =>
    s.ordering === 'raster'
      ? { carried: 'raster is ml-l3m’s own token order' }
      : {
          carried: 'constants.patch_order (+ playground_orderings.PermuteTokens)',
          notCarried: ORDERING_LIMIT,
          brief:
            'ml-l3m’s AIM v1 path cannot express it: the bundle adds two token-permuting blocks',
        },
  batch: () => ({
    carried: 'constants.batch_size_per_gpu × world size, optim.gradient_accumulation_steps',
  }),
  steps: () => ({ carried: 'experiment.total_iterations' }),
  lr: () => ({ carried: 'optim.optimizer.lr' }),
  warmupFraction: () => ({ carried: 'optim.scheduler.lengths' }),
  prefix: () => ({ carried: 'constants.prefix_range' }),
  targets: () => ({ carried: 'loss.norm_pix_loss' }),
  headKind: () => ({
    carried:
      'model.meta_model.head (none: SimpleDecoder with skip_projection, disable_pos_embed, no blocks, no post_decoder_norm)',
  }),
  headDepth: () => ({ carried: 'constants.head_num_blocks' }),
  headWidth: () => ({ carried: 'constants.head_embed_dim' }),
  width: () => ({ carried: 'constants.vision_embed_dim' }),
  depth: () => ({ carried: 'constants.vision_num_blocks' }),
  heads: () => ({ carried: 'constants.vision_num_heads' }),
  cropScaleMin: () => ({ carried: 'constants.train_transform (RandomResizedCrop scale)' }),
  seed: () => ({
    carried: 'constants.seed',
    notCarried:
      'the seed is carried, but PyTorch’s generators draw other numbers than the tab’s: same seed, different initialisation and data order',
    brief: 'same value, PyTorch draws other random numbers',
  }),
  weightDecay: () => ({ carried: 'optim.optimizer.weight_decay, optim.wd_exclude' }),
  clipNorm: () => ({ carried: 'optim.grad_clip' }),
  colorJitter: () => ({ carried: 'constants.train_transform (RandomApply ColorJitter)' }),
  headExtraNormTerm: ({ s, hasCheckpoint }) =>
    s.headKind === 'none'
      ? { carried: 'nothing to carry: the run has no head blocks' }
      : s.headExtraNormTerm
        ? { carried: 'model.meta_model.head (ml-l3m’s SimpleDecoder always has x + LN1(x))' }
        : {
            notCarried: hasCheckpoint
              ? 'ml-l3m’s head always adds x + LN1(x): the checkpoint sets every head norm_1 to 0 so the model starts identical, but ml-l3m trains those norms'
              : 'ml-l3m’s head always adds x + LN1(x) (the run used the paper’s head without it)',
            brief: 'ml-l3m’s head always has it',
          },
  evalEvery: () => ({ carried: 'experiment.test_frequency' }),
  evalImages: () => ({
    notCarried: 'ml-l3m evaluates on the whole validation folder, not a number of images',
    brief: 'ml-l3m evaluates the whole validation folder',
  }),
  chunks: () => ({
    notCarried:
      'ml-l3m’s RasterPixelLoss logs one loss, not the per-chunk loss (the paper’s Figure 7)',
    brief: 'ml-l3m logs no per-chunk loss',
  }),
  checkpointEvery: () => ({ carried: 'experiment.ckpt_save_freq' }),
  probeEvery: ({ s }) =>
    s.probeEvery > 0
      ? {
          notCarried:
            'ml-l3m’s pre-training loop does not probe on the way; probe its checkpoints afterwards with ml-aim’s attentive-probe evaluation',
          brief: 'ml-l3m does not probe during pre-training',
        }
      : { carried: 'nothing to carry: the run did not probe' },
  probeImages: ({ s }) =>
    s.probeEvery > 0
      ? {
          notCarried: 'ml-l3m’s pre-training loop does not probe, so it has no probe images',
          brief: 'ml-l3m does not probe during pre-training',
        }
      : { carried: 'nothing to carry: the run did not probe' },
};

export function coverageOf(s: RunSettings, hasCheckpoint: boolean): Record<SettingKey, Coverage> {
  const ctx: CoverageContext = { s, config: modelConfigFor(s), hasCheckpoint };
  return Object.fromEntries(
    (Object.keys(SETTING_COVERAGE) as SettingKey[]).map((k) => [k, SETTING_COVERAGE[k](ctx)]),
  ) as Record<SettingKey, Coverage>;
}

export class ScaleOutError extends Error {
  override readonly name = 'ScaleOutError';
}

function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
}

/** Per-GPU batch and accumulation chunks for a global batch over `worldSize` GPUs. */
export function splitBatch(
  batch: number,
  worldSize: number,
  microBatch?: number,
): { perGpu: number; accumulation: number } {
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new ScaleOutError(`world size must be a positive integer (got ${worldSize})`);
  if (batch % worldSize !== 0) {
    const fits = divisors(batch).filter((d) => d <= 4096);
    throw new ScaleOutError(
      `batch ${batch} does not split over ${worldSize} GPUs: ml-l3m’s global batch is the per-GPU batch × the world size; use a world size that divides ${batch} (${fits.slice(0, 12).join(', ')}${fits.length > 12 ? ', …' : ''})`,
    );
  }
  const perGpu = batch / worldSize;
  if (microBatch === undefined || microBatch >= perGpu) return { perGpu, accumulation: 1 };
  if (!Number.isInteger(microBatch) || microBatch < 1)
    throw new ScaleOutError(`micro-batch must be a positive integer (got ${microBatch})`);
  // ml-l3m chunks each GPU's batch into equal parts: take the fewest that fit.
  const accumulation = divisors(perGpu).find((k) => perGpu / k <= microBatch)!;
  return { perGpu, accumulation };
}

export interface RunScaleOut {
  spec: L3mSpec;
  coverage: Record<SettingKey, Coverage>;
  /** Other differences between the tab's run and the config, one sentence each. */
  notes: string[];
}

/** The ml-l3m spec that continues a playground run, and what could not be carried over. */
export function specFromRun(s: RunSettings, o: ScaleOutOptions): RunScaleOut {
  const problems = validateSettings(s);
  if (problems.length) throw new ScaleOutError(`the run's settings: ${problems.join(' ')}`);
  const c = modelConfigFor(s);
  const { perGpu, accumulation } = splitBatch(s.batch, o.worldSize, o.microBatch);
  const g = gridSize(c);
  const K = numPatches(c);
  const base = recipeSpec(c, { train: o.dataTrain, val: o.dataVal });
  const headKind = s.headKind;
  const spec: L3mSpec = {
    ...base,
    headKind,
    headWidth: c.head.width,
    headDepth: headKind === 'mlp' ? c.head.depth : 0,
    normPixLoss: s.targets === 'normalized',
    imageSize: c.imageSize,
    patchSize: c.patchSize,
    trunkNormEps: c.trunkNormEps,
    headNormEps: c.headNormEps,
    batchPerGpu: perGpu,
    gradientAccumulation: accumulation,
    seed: s.seed,
    prefixRange: s.prefix ? [1, K - 1] : [1, 1],
    cropScale: [s.cropScaleMin, 1.0],
    colorJitter: s.colorJitter,
    lr: s.lr,
    warmupStartLr: DEFAULT_WARMUP.warmupStartLr,
    betas: [AIM_ADAMW.beta1, AIM_ADAMW.beta2],
    eps: AIM_ADAMW.eps,
    weightDecay: s.weightDecay,
    gradClip: s.clipNorm,
    warmupFraction: s.warmupFraction,
    totalIterations: s.steps,
    ckptSaveFreq: s.checkpointEvery > 0 ? s.checkpointEvery : s.steps,
    testFrequency: s.evalEvery,
    dtype: o.dtype,
    checkpoint: o.checkpoint,
    order: s.ordering === 'raster' ? null : patchOrder(s.ordering, g, g, s.seed),
  };
  const notes: string[] = [];
  if (o.dtype === 'bfloat16')
    notes.push('The tab trains in float32; the config uses bf16 autocast as the recipe does.');
  if (c.trunkNormEps !== base.trunkNormEps)
    notes.push(
      `Trunk LayerNorm ε is the tab’s (ml-aim’s) ${c.trunkNormEps}; ml-l3m’s recipe uses ${base.trunkNormEps}.`,
    );
  return { spec, coverage: coverageOf(s, o.checkpoint !== null), notes };
}
