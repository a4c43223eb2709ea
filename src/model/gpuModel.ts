/**
 * `AimGpuModel`: the AIM v1 pre-training model (ml-aim's trunk, ml-l3m's head, the
 * normalised-pixel loss) on the GPU for one configuration and batch size. It owns one
 * tensor per parameter and per gradient (by ml-aim state-dict key), the saved activations
 * and the scratch, and builds every PreparedDispatch once, so a training step is
 *
 *   model.setInputs(images, order, prefixLengths);  await model.forwardBackward();
 *
 * — one submission recording the forward (loss included, whose kernel also writes the
 * prediction's gradient) and the backward (every parameter gradient, written; or added with
 * `accumulateGradients`, for micro-batches, after `zeroGradients()` — each pass adds the
 * gradient of its own batch's mean loss, so scale by 1/passes for the mean over them). The
 * optimizer reads `gradient(name)` and updates `parameter(name)` in place.
 *
 * What is saved for the backward is listed in gpuTrunk.ts and gpuHead.ts: every
 * intermediate a backward step reads, nothing recomputed. Gradient scratch is shared across
 * blocks. `runTrunk` reuses the same buffers for ml-aim's trunk alone (per-block outputs,
 * bidirectional by default), as the probe and the ONNX cross-check need.
 */
import type { GpuContext } from '../gpu/context';
import { releaseDispatch, runDispatches, type PreparedDispatch } from '../gpu/dispatch';
import type { Tensor } from '../gpu/tensor';
import { prepareFill } from '../kernels/elementwise';
import { deferReductions } from '../kernels/partialsReduce';
import { isPermutation } from './orderings';
import { numPatches, validateConfig, type AimConfig } from './config';
import {
  allocateModel,
  type HeadBuffers,
  type HeadRowTensors,
  type ModelInputTensors,
  type TrunkBuffers,
} from './allocation';
import { gather, ParameterStore, TensorPool } from './gpuBuffers';
import {
  prepareHeadFixedBackward,
  prepareHeadFixedForward,
  prepareHeadRowsBackward,
  prepareHeadRowsForward,
} from './gpuHead';
import {
  DispatchSlots,
  headRowBucket,
  headRowBuckets,
  headRowLists,
  type HeadRowMode,
} from './headRows';
import { prepareTrunkBackward, prepareTrunkForward, trunkOutput } from './gpuTrunk';
import { checkParameterValues, type ParamSpec } from './params';

export interface AimGpuModelOptions {
  /** Backward adds into the gradients (zero them with `zeroGradients`) instead of writing. */
  accumulateGradients?: boolean;
  /** ml-aim's trunk only: no head, loss, gradients or backward (see `create`). */
  trunkOnly?: boolean;
}

export interface TrunkOutputs {
  /** tokens_after_preprocessor, [B, K, D] flattened. */
  tokens: Float32Array;
  /** Each block's output, [B, K, D] flattened. */
  blocks: Float32Array[];
}

const TRUNK_ONLY = 'AIM model: this model was created trunkOnly (no head, loss or gradients)';

/**
 * The head runs on the rows the step's prediction counts (headRows.ts): prepared once per row
 * bucket, its dispatches sit in slots that `setInputs` points at the batch's bucket.
 */
interface HeadRowState {
  buckets: number[];
  lists: HeadRowTensors;
  forward: DispatchSlots;
  backward: DispatchSlots;
}

/** What `create` builds and the model owns. */
interface ModelParts {
  pool: TensorPool;
  inputs: ModelInputTensors;
  store: ParameterStore;
  trunk: TrunkBuffers;
  /** Absent for a trunk-only model. */
  head?: HeadBuffers;
  headRows?: HeadRowState;
  trunkDispatches: PreparedDispatch[];
  forwardDispatches: PreparedDispatch[];
  backwardDispatches: PreparedDispatch[];
  zeroGradientDispatches: PreparedDispatch[];
}

export class AimGpuModel {
  readonly specs: readonly ParamSpec[];
  /** Bytes of everything the model allocated (parameters, gradients, activations, scratch). */
  readonly bytes: number;
  /** images [B, 3, H, W], order u32 [K], prefixLengths u32 [B]: written by `setInputs`. */
  readonly inputs: ModelInputTensors;
  /** Patchify through the last trunk block (also the start of `forwardDispatches`). */
  readonly trunkDispatches: readonly PreparedDispatch[];
  /** Targets, trunk, post-trunk norm, head, loss and d loss / d pred. */
  readonly forwardDispatches: readonly PreparedDispatch[];
  /** Every parameter gradient, from d loss / d pred. */
  readonly backwardDispatches: readonly PreparedDispatch[];
  /** Sets every gradient to 0 (before accumulating micro-batches). */
  readonly zeroGradientDispatches: readonly PreparedDispatch[];
  private readonly pool: TensorPool;
  private readonly store: ParameterStore;
  private readonly trunk: TrunkBuffers;
  private readonly headBuffers?: HeadBuffers;
  private readonly headRows?: HeadRowState;

  private constructor(
    readonly ctx: GpuContext,
    readonly config: AimConfig,
    readonly batch: number,
    parts: ModelParts,
  ) {
    this.pool = parts.pool;
    this.inputs = parts.inputs;
    this.store = parts.store;
    this.trunk = parts.trunk;
    this.headBuffers = parts.head;
    this.headRows = parts.headRows;
    this.trunkDispatches = parts.trunkDispatches;
    this.forwardDispatches = parts.forwardDispatches;
    this.backwardDispatches = parts.backwardDispatches;
    this.zeroGradientDispatches = parts.zeroGradientDispatches;
    this.specs = parts.store.specs;
    this.bytes = parts.pool.bytes;
  }

  /**
   * Allocates and prepares everything for `batch` images of `config`. With `trunkOnly`,
   * only ml-aim's trunk parameters and activations, no gradients, head or loss (feature
   * extraction: probes, ONNX cross-checks) — and only the forward kernels get compiled.
   */
  static async create(
    ctx: GpuContext,
    config: AimConfig,
    batch: number,
    opts: AimGpuModelOptions = {},
  ): Promise<AimGpuModel> {
    const problems = validateConfig(config);
    if (problems.length) throw new RangeError(`AIM model: ${problems.join(' ')}`);
    if (!Number.isInteger(batch) || batch < 1)
      throw new RangeError(`AIM model: batch ${batch} must be a positive integer`);
    const pool = new TensorPool(ctx);
    try {
      const buffers = allocateModel(pool, config, batch, { trunkOnly: opts.trunkOnly });
      const { inputs, trunk, head, trunkGrads, headRows: lists } = buffers;
      const store = new ParameterStore(buffers.parameters, buffers.trunkGrads?.gradientPartials);
      const trunkForward = prepareTrunkForward(ctx, config, batch, store, trunk, inputs);
      if (!head || !trunkGrads || !lists) {
        const trunkDispatches = await trunkForward;
        return new AimGpuModel(ctx, config, batch, {
          pool,
          inputs,
          store,
          trunk,
          trunkDispatches,
          forwardDispatches: trunkDispatches,
          backwardDispatches: [],
          zeroGradientDispatches: [],
        });
      }
      const backwardOpts = { accumulate: opts.accumulateGradients ?? false };
      const last = trunkOutput(trunk);
      const buckets = headRowBuckets(batch * numPatches(config));
      // The post-trunk norm's full output goes to trunkGrads.dh, unused until the backward;
      // the head gathers its rows from there.
      const normOut = trunkGrads.dh;
      // Prepared concurrently (see gather); each list keeps its recording order.
      const [
        trunkDispatches,
        headFixedForward,
        headRowsForward,
        headRowsBackward,
        headFixedBackward,
        trunkBackward,
        zero,
      ] = await Promise.all([
        trunkForward,
        prepareHeadFixedForward(ctx, config, store, head, last, inputs, normOut),
        Promise.all(
          buckets.map((count) =>
            prepareHeadRowsForward(
              ctx,
              config,
              batch,
              store,
              head,
              { count, lists },
              inputs,
              normOut,
            ),
          ),
        ),
        Promise.all(
          buckets.map((count) =>
            prepareHeadRowsBackward(
              ctx,
              config,
              store,
              head,
              { count, lists },
              trunkGrads,
              backwardOpts,
            ),
          ),
        ),
        prepareHeadFixedBackward(ctx, store, head, last, trunkGrads, backwardOpts),
        prepareTrunkBackward(ctx, config, batch, store, trunk, trunkGrads, inputs, backwardOpts),
        gather(store.names.map((n) => prepareFill(ctx, { y: store.grad(n) }, { value: 0 }))),
      ]);
      // Each backward list ends with one partials_reduce pass for the weight and LayerNorm
      // gradients it deferred (their own partials: allocation.ts gradientPartials).
      const isHead = (name: string) => name.startsWith('head.');
      const headTable = { tableEntries: store.partialsTableEntries(isHead) };
      const fixedTable = { tableEntries: store.partialsTableEntries((n) => !isHead(n)) };
      const [rowsBackward, fixedBackward] = await Promise.all([
        Promise.all(headRowsBackward.map((list) => deferReductions(ctx, list, headTable))),
        deferReductions(ctx, [...headFixedBackward, ...trunkBackward], fixedTable),
      ]);
      const headRows: HeadRowState = {
        buckets,
        lists,
        forward: new DispatchSlots(headRowsForward),
        backward: new DispatchSlots(rowsBackward),
      };
      const parts: ModelParts = {
        pool,
        inputs,
        store,
        trunk,
        head,
        headRows,
        trunkDispatches,
        forwardDispatches: [...trunkDispatches, ...headFixedForward, ...headRows.forward.slots],
        backwardDispatches: [...headRows.backward.slots, ...fixedBackward],
        zeroGradientDispatches: zero,
      };
      return new AimGpuModel(ctx, config, batch, parts);
    } catch (error) {
      pool.destroy();
      throw error;
    }
  }

  /** The head's buffers; throws for a trunk-only model, which has no head, loss or gradients. */
  /**
   * Every dispatch the model prepared, the head's once per row bucket (the step's lists hold
   * only the selected bucket's): what owns the kernels' scratch buffers.
   */
  get preparedDispatches(): readonly PreparedDispatch[] {
    const slots = new Set<PreparedDispatch>([
      ...(this.headRows?.forward.slots ?? []),
      ...(this.headRows?.backward.slots ?? []),
    ]);
    return [
      ...[...this.forwardDispatches, ...this.backwardDispatches].filter((d) => !slots.has(d)),
      ...(this.headRows?.forward.allVariants ?? []),
      ...(this.headRows?.backward.allVariants ?? []),
      ...this.zeroGradientDispatches,
    ];
  }

  private get head(): HeadBuffers {
    if (!this.headBuffers) throw new RangeError(TRUNK_ONLY);
    return this.headBuffers;
  }

  get parameterNames(): string[] {
    return this.store.names;
  }

  parameter(name: string): Tensor<'f32'> {
    return this.store.param(name);
  }

  gradient(name: string): Tensor<'f32'> {
    return this.store.grad(name);
  }

  /** Output tensors: per-position losses [B, K], the loss [1], the prediction [B·K, p·p·3]. */
  get outputs(): { perPosition: Tensor<'f32'>; loss: Tensor<'f32'>; pred: Tensor<'f32'> } {
    return { perPosition: this.head.perPosition, loss: this.head.loss, pred: this.head.pred };
  }

  uploadParameter(name: string, data: Float32Array | readonly number[]): void {
    this.store.upload(name, data);
  }

  /**
   * Uploads a state dict. Every parameter must be present unless `partial` (e.g. an ml-aim
   * trunk checkpoint into a model whose head keeps its own values); unknown keys are refused.
   */
  uploadParameters(values: ReadonlyMap<string, ArrayLike<number>>, { partial = false } = {}): void {
    const problems = checkParameterValues(this.specs, values).filter(
      (p) => !(partial && p.startsWith('missing parameter')),
    );
    if (problems.length) throw new RangeError(`AIM model: ${problems.join('; ')}`);
    for (const [name, v] of values) this.store.upload(name, Float32Array.from(v));
  }

  downloadParameter(name: string): Promise<Float32Array> {
    return this.store.download(name);
  }

  async downloadParameters(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const name of this.store.names) out.set(name, await this.store.download(name));
    return out;
  }

  async downloadGradients(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const name of this.store.names) out.set(name, await this.store.downloadGradient(name));
    return out;
  }

  /**
   * Uploads a batch: images [B, 3, H, W] (null: written on the GPU by the step's own
   * augmentation dispatches, src/training/gpuBatches.ts), a permutation of the K patches,
   * prefix lengths [B]. The head computes only the rows whose prediction counts (the loss
   * and its gradients are the same; `outputs.pred` then holds those rows, compacted), or
   * with `headRows: 'all'` every row (`outputs.pred` is then [B·K, p·p·3] in row order).
   */
  setInputs(
    images: Float32Array | null,
    order: ArrayLike<number>,
    prefixLengths: ArrayLike<number>,
    { headRows = 'counted' }: { headRows?: HeadRowMode } = {},
  ): void {
    const K = numPatches(this.config);
    const ordered = Array.from(order);
    if (!isPermutation(ordered, K))
      throw new RangeError(`AIM model: order must be a permutation of 0…${K - 1}`);
    if (prefixLengths.length !== this.batch)
      throw new RangeError(
        `AIM model: ${prefixLengths.length} prefix lengths for a batch of ${this.batch}`,
      );
    for (const s of Array.from(prefixLengths))
      if (!Number.isInteger(s) || s < 0 || s > K)
        throw new RangeError(`AIM model: prefix length ${s} outside 0…${K}`);
    if (images) this.inputs.images.upload(images);
    this.inputs.order.upload(ordered);
    this.inputs.prefixLengths.upload(Array.from(prefixLengths));
    if (this.headRows) this.selectHeadRows(headRows, ordered, prefixLengths);
  }

  /** Writes the step's head row lists and points the head's slots at their bucket. */
  private selectHeadRows(
    mode: HeadRowMode,
    order: ArrayLike<number>,
    prefixLengths: ArrayLike<number>,
  ): void {
    const state = this.headRows!;
    const lists = headRowLists(prefixLengths, order, mode);
    state.lists.rows.upload(lists.rows);
    state.lists.rowOf.upload(lists.rowOf);
    state.lists.positions.upload(lists.positions);
    const bucket = headRowBucket(lists.count, state.buckets);
    state.forward.select(bucket);
    state.backward.select(bucket);
  }

  /** Forward only: per-position losses and the loss (and d loss / d pred). */
  forward(): Promise<void> {
    if (!this.headBuffers) return Promise.reject(new RangeError(TRUNK_ONLY));
    return runDispatches(this.ctx, this.forwardDispatches);
  }

  /** Forward and backward recorded in one pass, one submission. */
  forwardBackward(): Promise<void> {
    if (!this.headBuffers) return Promise.reject(new RangeError(TRUNK_ONLY));
    return runDispatches(this.ctx, [...this.forwardDispatches, ...this.backwardDispatches]);
  }

  zeroGradients(): Promise<void> {
    return runDispatches(this.ctx, this.zeroGradientDispatches);
  }

  async readLoss(): Promise<number> {
    return (await this.head.loss.download())[0];
  }

  /**
   * ml-aim's trunk alone on `images`: tokens after the preprocessor and every block's
   * output. Bidirectional (prefix = K) and raster order unless given. Overwrites the model's
   * inputs.
   */
  async runTrunk(
    images: Float32Array,
    opts: { order?: ArrayLike<number>; prefixLengths?: ArrayLike<number> } = {},
  ): Promise<TrunkOutputs> {
    const K = numPatches(this.config);
    const order = opts.order ?? Array.from({ length: K }, (_, i) => i);
    const prefix = opts.prefixLengths ?? new Array<number>(this.batch).fill(K);
    this.setInputs(images, order, prefix);
    await runDispatches(this.ctx, this.trunkDispatches);
    const blocks: Float32Array[] = [];
    for (const b of this.trunk.blocks) blocks.push(await b.out.download());
    return { tokens: await this.trunk.tokens.download(), blocks };
  }

  /**
   * Each block's output, [B·K, D], on the GPU (written by `trunkDispatches`): the probes
   * (src/probe/) average the last L of them without a round trip through the CPU.
   */
  blockOutputs(): readonly Tensor<'f32'>[] {
    return this.trunk.blocks.map((b) => b.out);
  }

  destroy(): void {
    for (const list of [
      this.forwardDispatches,
      this.backwardDispatches,
      this.zeroGradientDispatches,
    ])
      for (const d of list) releaseDispatch(d);
    this.headRows?.forward.release();
    this.headRows?.backward.release();
    this.pool.destroy();
  }
}
