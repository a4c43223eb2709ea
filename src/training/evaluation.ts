/**
 * Forward passes over validation images between training steps, on the training model's own
 * buffers: the validation and per-chunk / per-position loss (the paper's Figure 7), and the
 * next-patch predictions the Train view shows. Both in the causal setting (S = 1: every target
 * counts), without augmentation; neither changes a parameter. The Trainer calls them only
 * when no step is in flight.
 */
import { evalBatch } from '../data/batch';
import type { ImageDataset } from '../data/dataset';
import type { GpuContext } from '../gpu/context';
import { runDispatches } from '../gpu/dispatch';
import { numPatches, pixelTargetsOf, type AimConfig } from '../model/config';
import type { AimGpuModel } from '../model/gpuModel';
import { ChunkLossAccumulator, roundSignificant } from './chunkLoss';
import type { GpuBatches } from './gpuBatches';
import { predictionImages, type PredictionImage } from './predictions';
import type { RunSettings } from './settings';

export class Evaluator {
  constructor(
    private readonly ctx: GpuContext,
    private readonly settings: RunSettings,
    private readonly config: AimConfig,
    private readonly dataset: ImageDataset,
    private readonly model: AimGpuModel,
    private readonly order: number[],
    /** The dataset on the GPU, or null: batches are assembled on the CPU. */
    private readonly gpuBatches: GpuBatches | null,
  ) {}

  /** Validation loss, per-chunk and per-position loss over the first `evalImages` images. */
  async evaluate(): Promise<{ valLoss: number; chunkLoss: number[]; positionLoss: number[] }> {
    const { batch, evalImages, chunks } = this.settings;
    const val = this.dataset.val;
    const batches = Math.max(1, Math.ceil(Math.min(evalImages, val.count) / batch));
    const acc = new ChunkLossAccumulator(numPatches(this.config), chunks);
    const prefix = new Array<number>(batch).fill(1);
    for (let i = 0; i < batches; i++) {
      const indices = Array.from({ length: batch }, (_, k) => (i * batch + k) % val.count);
      if (this.gpuBatches) {
        this.gpuBatches.writeEval(indices);
        this.model.setInputs(null, this.order, prefix);
        await runDispatches(this.ctx, [
          ...this.gpuBatches.dispatches,
          ...this.model.forwardDispatches,
        ]);
      } else {
        this.model.setInputs(
          evalBatch(val, indices, this.config.imageSize).images,
          this.order,
          prefix,
        );
        await runDispatches(this.ctx, this.model.forwardDispatches);
      }
      acc.add(await this.model.outputs.perPosition.download(), batch);
    }
    const { chunkLoss, loss, positionLoss } = acc.result();
    return {
      valLoss: loss,
      chunkLoss,
      positionLoss: positionLoss.map((v) => roundSignificant(v, 4)),
    };
  }

  /** The next-patch predictions for the first `count` validation images, as pixels. */
  async predictions(count: number): Promise<PredictionImage[]> {
    const { batch } = this.settings;
    const val = this.dataset.val;
    const indices = Array.from({ length: batch }, (_, k) => k % val.count);
    const images = evalBatch(val, indices, this.config.imageSize).images;
    // Every position's prediction, not only the counted ones the training step computes.
    this.model.setInputs(images, this.order, new Array<number>(batch).fill(1), {
      headRows: 'all',
    });
    await runDispatches(this.ctx, this.model.forwardDispatches);
    const pred = await this.model.outputs.pred.download();
    return predictionImages(
      images,
      pred,
      batch,
      this.config.imageSize,
      this.config.patchSize,
      this.order,
      count,
      pixelTargetsOf(this.config),
    );
  }
}
