/**
 * Probing a run's trunk while it trains (the paper's Figure 4: the pre-training loss tracks
 * downstream accuracy). The same library as paper mode (trainProbes, as probeCell calls it:
 * both probes, linear and attentive, on the frozen trunk run bidirectionally, features of the
 * last quarter of the blocks), on the run's own labelled images: the first `probeImages`
 * training images (no augmentation) to learn from, the first `evalImages` validation images
 * (those the validation loss is measured on, which rounds up to whole batches) to test on.
 *
 * The recipe is PROBE_RECIPE with fewer epochs (FIGURE4_PROBE_RECIPE): a run probes many
 * times, and the probes' cost is paid by the run each time (training waits). Every probe of a
 * run uses the same images, the same seed (the run's) and so the same initialisation and
 * minibatch order: two probe points of a run differ only by the trunk they read.
 *
 * Probing reads the parameters (a copy, downloaded) and nothing else of the run's state: not
 * its random stream, not its optimizer, not its data order. A run probed every step trains
 * exactly as the same run unprobed (test/figure4Session.test.ts).
 */
import type { ImageDataset } from '../data/dataset';
import type { GpuContext } from '../gpu/context';
import type { AimConfig } from '../model/config';
import { PROBE_RECIPE, type ProbeKind, type ProbeRecipe } from '../probe/recipe';
import { trainProbes, type ProbeProgress } from '../probe/trainProbe';
import type { RunSettings } from '../training/settingsSchema';
import type { ProbePoint } from './figure4Points';
import { defaultProbeLayers, labelledImages } from './probeCells';

/**
 * The recipe of a probe during a run: PROBE_RECIPE (AdamW, warm-up + cosine, batch 64, lr
 * 1e-2) with 5 epochs instead of 10, halving the probes' training (the trunk pass that computes
 * the features is paid once either way). A run's probe points are compared with one another,
 * all made with this recipe, not with paper mode's tables; a probe point records its epochs.
 */
export const FIGURE4_PROBE_RECIPE: ProbeRecipe = { ...PROBE_RECIPE, epochs: 5 };

/**
 * Why the run's data cannot be probed, as a sentence; undefined when it can (or the run does
 * not probe). Asked before a run starts, so a run never fails at its first probe.
 */
export function probeDataProblem(
  settings: Pick<RunSettings, 'probeEvery'>,
  dataset: Pick<ImageDataset, 'classes' | 'train' | 'val' | 'name'>,
): string | undefined {
  if (!((settings.probeEvery ?? 0) > 0)) return undefined;
  if (dataset.classes.length < 2)
    return `Probing needs labelled images of at least two classes; ${dataset.name} has ${dataset.classes.length}. Set “Probe every” to 0 to train without probes.`;
  if (dataset.train.count < 2)
    return `Probing needs at least two training images (the linear probe's BatchNorm); ${dataset.name} has ${dataset.train.count}.`;
  if (dataset.val.count < 1) return `Probing tests on validation images; ${dataset.name} has none.`;
  return undefined;
}

export interface RunProbeSource {
  ctx: GpuContext;
  config: AimConfig;
  settings: RunSettings;
  dataset: ImageDataset;
  /** The current parameters by name (a copy: probing never writes them). */
  downloadParameters(): Promise<Map<string, Float32Array>>;
}

/**
 * The probe of one run: its labelled images prepared once (the same every time it probes),
 * and `probe(step, valLoss)` that trains both probes on the run's current trunk.
 */
export class RunProber {
  private images?: {
    train: ReturnType<typeof labelledImages>;
    heldOut: ReturnType<typeof labelledImages>;
  };

  constructor(private readonly source: RunProbeSource) {
    const problem = probeDataProblem(source.settings, source.dataset);
    if (problem) throw new RangeError(problem);
  }

  /** The images the probes learn from and are tested on (prepared at the first probe). */
  private labelled() {
    const { settings, dataset, config } = this.source;
    this.images ??= {
      train: labelledImages(dataset.train, settings.probeImages, config.imageSize),
      heldOut: labelledImages(dataset.val, settings.evalImages, config.imageSize),
    };
    return this.images;
  }

  async probe(
    step: number,
    valLoss: number,
    onProgress?: (p: ProbeProgress) => void,
  ): Promise<ProbePoint> {
    const { ctx, config, settings, dataset } = this.source;
    const started = performance.now();
    const { train, heldOut } = this.labelled();
    const layers = defaultProbeLayers(config.depth);
    const results = await trainProbes(ctx, {
      config,
      params: await this.source.downloadParameters(),
      train,
      heldOut,
      numClasses: dataset.classes.length,
      kinds: ['linear', 'attentive'],
      layers,
      causal: false,
      seed: settings.seed,
      recipe: FIGURE4_PROBE_RECIPE,
      onProgress,
    });
    const of = (kind: ProbeKind) => {
      const r = results.find((x) => x.kind === kind);
      if (!r) throw new Error(`the ${kind} probe returned no result`);
      return r;
    };
    const percent = (fraction: number) => fraction * 100;
    return {
      step,
      valLoss,
      linear: percent(of('linear').top1),
      attentive: percent(of('attentive').top1),
      linearTrain: percent(of('linear').trainTop1),
      attentiveTrain: percent(of('attentive').trainTop1),
      trainImages: train.labels.length,
      heldOutImages: heldOut.labels.length,
      layers,
      epochs: FIGURE4_PROBE_RECIPE.epochs,
      seconds: (performance.now() - started) / 1000,
    };
  }
}
