/**
 * The probes' features, computed on the GPU and kept there: for each image, the mean of the
 * outputs of the trunk's last L blocks (ml-aim's `probe_layers` as "the last L"; no
 * post-trunk norm), with the trunk run bidirectionally (ml-aim downstream) or causally
 * (raster order, prefix 0: the paper's Table 3d). A bank holds `capacity` images:
 *   tokens [capacity, N, D]  for the attentive probe
 *   pooled [capacity, D]     the mean over the tokens, for the linear probe
 * `fill` runs the trunk over images in chunks of `trunkBatch` and copies each chunk's
 * features into the bank's first slots. When a split is larger than the bank the caller
 * refills it segment by segment (recomputing the features: the memory budget below wins
 * over the trunk's time).
 */
import type { GpuContext } from '../gpu/context';
import { recordDispatch, releaseDispatch, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import { prepareAccumulate, prepareScale } from '../kernels/elementwise';
import { prepareProbeMeanPool } from '../kernels/probeBatchNorm';
import { numPatches, type AimConfig } from '../model/config';
import { AimGpuModel } from '../model/gpuModel';

/**
 * Default GPU memory for a bank: 256 MiB (aim-tiny: 64 × 192 × 4 B = 48 KiB an image, so
 * ≈ 5,400 images; aim-micro: 4 KiB, 65,000). A laptop GPU holds it beside the trunk, and
 * WebGPU's default maxStorageBufferBindingSize (128 MiB) also caps one bank buffer.
 */
export const PROBE_FEATURE_BUDGET_BYTES = 256 * 2 ** 20;

/** Images per trunk pass while computing features. */
export const PROBE_TRUNK_BATCH = 32;

export interface FeatureOptions {
  /** The last L blocks are averaged (1 ≤ L ≤ depth). */
  layers: number;
  /** Run the trunk causally (raster order) instead of bidirectionally. */
  causal: boolean;
  /** Which banks to keep. */
  tokens: boolean;
  pooled: boolean;
}

/** Bytes a bank needs per image. */
export function featureBytesPerImage(
  config: AimConfig,
  o: Pick<FeatureOptions, 'tokens' | 'pooled'>,
): number {
  const N = numPatches(config);
  return 4 * config.width * ((o.tokens ? N : 0) + (o.pooled ? 1 : 0));
}

/** Images a bank may hold under `budgetBytes` and the device's largest binding. */
export function featureCapacity(
  ctx: GpuContext,
  config: AimConfig,
  o: Pick<FeatureOptions, 'tokens' | 'pooled'>,
  budgetBytes = PROBE_FEATURE_BUDGET_BYTES,
): number {
  const per = featureBytesPerImage(config, o);
  const perBuffer = 4 * config.width * (o.tokens ? numPatches(config) : 1);
  const byBinding = Math.floor(ctx.device.limits.maxStorageBufferBindingSize / perBuffer);
  return Math.max(1, Math.min(Math.floor(budgetBytes / per), byBinding));
}

export class ProbeFeatures {
  readonly tokens: number;
  readonly dim: number;
  /** [capacity, N, D] when kept. */
  readonly tokenBank?: Tensor<'f32'>;
  /** [capacity, D] when kept. */
  readonly pooledBank?: Tensor<'f32'>;

  private constructor(
    private readonly ctx: GpuContext,
    readonly config: AimConfig,
    readonly capacity: number,
    private readonly opts: FeatureOptions,
    private readonly model: AimGpuModel,
    private readonly chunk: { tokens: Tensor<'f32'>; pooled?: Tensor<'f32'> },
    private readonly dispatches: PreparedDispatch[],
    banks: { tokens?: Tensor<'f32'>; pooled?: Tensor<'f32'> },
  ) {
    this.tokens = numPatches(config);
    this.dim = config.width;
    this.tokenBank = banks.tokens;
    this.pooledBank = banks.pooled;
  }

  /**
   * A trunk (ml-aim keys; other keys, such as a pre-training head's, are ignored) and banks
   * for `capacity` images. `params` may instead be a reader of one tensor at a time (the
   * inference tab's second engine reads multi-gigabyte models tensor by tensor).
   */
  static async create(
    ctx: GpuContext,
    config: AimConfig,
    params: ReadonlyMap<string, ArrayLike<number>> | ((name: string) => Promise<ArrayLike<number>>),
    capacity: number,
    opts: FeatureOptions,
  ): Promise<ProbeFeatures> {
    const { layers } = opts;
    if (!Number.isInteger(layers) || layers < 1 || layers > config.depth)
      throw new RangeError(
        `probe: layers ${layers} must be between 1 and the trunk's ${config.depth} blocks`,
      );
    if (!opts.tokens && !opts.pooled) throw new RangeError('probe: no features asked for');
    const batch = Math.min(PROBE_TRUNK_BATCH, capacity);
    const model = await AimGpuModel.create(ctx, config, batch, { trunkOnly: true });
    const made: Tensor[] = [];
    try {
      if (typeof params === 'function') {
        for (const spec of model.specs)
          model.uploadParameters(new Map([[spec.name, await params(spec.name)]]), {
            partial: true,
          });
      } else {
        const trunk = new Map<string, ArrayLike<number>>();
        for (const spec of model.specs) {
          const v = params.get(spec.name);
          if (!v) throw new RangeError(`probe: the checkpoint has no ${spec.name}`);
          trunk.set(spec.name, v);
        }
        model.uploadParameters(trunk);
      }
      const N = numPatches(config);
      const D = config.width;
      const make = (shape: number[], label: string) => {
        const t = Tensor.empty(ctx, shape, 'f32', label);
        made.push(t);
        return t;
      };
      const chunkTokens = make([batch, N, D], 'probe chunk features');
      const chunkPooled = opts.pooled ? make([batch, D], 'probe chunk pooled') : undefined;
      const banks = {
        tokens: opts.tokens ? make([capacity, N, D], 'probe feature bank') : undefined,
        pooled: opts.pooled ? make([capacity, D], 'probe pooled bank') : undefined,
      };
      // Σ of the last L block outputs, then ÷ L (as the exported graph: Add…, Div).
      const blocks = model.blockOutputs().slice(config.depth - layers);
      const flat = (t: Tensor<'f32'>) => t.view([t.size]);
      const dispatches = [
        ...(await prepareScale(ctx, { x: flat(blocks[0]), out: flat(chunkTokens) }, { alpha: 1 })),
      ];
      for (const b of blocks.slice(1))
        dispatches.push(
          ...(await prepareAccumulate(ctx, { target: flat(chunkTokens), x: flat(b) })),
        );
      if (layers > 1)
        dispatches.push(...(await prepareScale(ctx, { x: chunkTokens }, { alpha: 1 / layers })));
      if (chunkPooled)
        dispatches.push(
          ...(await prepareProbeMeanPool(
            ctx,
            { x: chunkTokens, out: chunkPooled },
            { batch, tokens: N, dim: D },
          )),
        );
      return new ProbeFeatures(
        ctx,
        config,
        capacity,
        opts,
        model,
        { tokens: chunkTokens, pooled: chunkPooled },
        dispatches,
        banks,
      );
    } catch (error) {
      model.destroy();
      for (const t of made) t.destroy();
      throw error;
    }
  }

  /**
   * Features of `count` preprocessed images (NCHW, float32, `images` holds at least that
   * many) into bank slots 0…count−1.
   */
  async fill(images: Float32Array, count: number): Promise<void> {
    if (count > this.capacity)
      throw new RangeError(`probe: ${count} images exceed the bank's ${this.capacity}`);
    const size = this.config.imageSize;
    const per = 3 * size * size;
    if (images.length < count * per)
      throw new RangeError(
        `probe: ${images.length} values hold fewer than ${count} images of 3×${size}×${size}`,
      );
    const batch = this.model.batch;
    const K = this.tokens;
    const order = Array.from({ length: K }, (_, i) => i);
    // Prefix 0 is the causal mask in raster order; K is bidirectional.
    const prefix = new Array<number>(batch).fill(this.opts.causal ? 0 : K);
    const chunkImages = new Float32Array(batch * per);
    const tokenBytes = 4 * K * this.dim;
    const pooledBytes = 4 * this.dim;
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      chunkImages.fill(0);
      chunkImages.set(images.subarray(start * per, (start + n) * per));
      this.model.setInputs(chunkImages, order, prefix);
      await this.ctx.submit('probe features', (encoder) => {
        const pass = encoder.beginComputePass({ label: 'probe features' });
        for (const d of this.model.trunkDispatches) recordDispatch(pass, d);
        for (const d of this.dispatches) recordDispatch(pass, d);
        pass.end();
        const copy = (from: Tensor<'f32'>, to: Tensor<'f32'>, bytes: number) =>
          encoder.copyBufferToBuffer(
            from.buffer,
            from.byteOffset,
            to.buffer,
            to.byteOffset + start * bytes,
            n * bytes,
          );
        if (this.tokenBank) copy(this.chunk.tokens, this.tokenBank, tokenBytes);
        if (this.pooledBank && this.chunk.pooled)
          copy(this.chunk.pooled, this.pooledBank, pooledBytes);
      });
    }
  }

  destroy(): void {
    for (const d of this.dispatches) releaseDispatch(d);
    this.model.destroy();
    for (const t of [this.chunk.tokens, this.chunk.pooled, this.tokenBank, this.pooledBank])
      t?.destroy();
  }
}
