/**
 * One probe on the GPU (attentive: ml-aim's AttentionPoolingClassifier; linear: BatchNorm on
 * the token mean and a Linear), reading its minibatches from a feature bank
 * (features.ts) through an index list: its parameters by ml-aim key, their gradients and
 * AdamW moments, the BatchNorm's running statistics, and two prepared dispatch lists —
 *   train step (batch B):  BN batch stats (+ running update) → BN apply → [k, v matmuls →
 *     attention pool] → classifier → cross-entropy → classifier backward → [pool backward →
 *     cls column sum → dWk, dWv matmuls] → AdamW
 *   evaluation (batch E):  BN with running statistics → [k, v → pool] → classifier
 * No gradient flows below the normalised features: the trunk is frozen and the BatchNorm has
 * no parameters, so there is no BatchNorm backward.
 */
import type { GpuContext } from '../gpu/context';
import { releaseDispatch, runDispatches, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import {
  createAdamWState,
  createAdamWStep,
  prepareAdamW,
  writeAdamWStep,
  type AdamWStep,
} from '../kernels/adamw';
import { prepareColumnSum } from '../kernels/columnSum';
import { prepareMatmul } from '../kernels/matmul';
import {
  prepareProbeAttentionPoolBackward,
  prepareProbeAttentionPoolForward,
} from '../kernels/probeAttentionPool';
import { prepareProbeBatchNormApply, prepareProbeBatchNormStats } from '../kernels/probeBatchNorm';
import { prepareProbeCrossEntropy } from '../kernels/probeCrossEntropy';
import { decays, probeParamShapes, type ProbeKind, type ProbeRecipe } from './recipe';

export interface ProbeModelShape {
  /** Tokens per image (N) and channels (D) of the features. */
  tokens: number;
  dim: number;
  heads: number;
  classes: number;
}

interface Param {
  value: Tensor<'f32'>;
  grad: Tensor<'f32'>;
  expAvg: Tensor<'f32'>;
  expAvgSq: Tensor<'f32'>;
}

export class ProbeModel {
  /** Optimizer steps taken (also BatchNorm's num_batches_tracked). */
  steps = 0;
  private readonly owned: Tensor[] = [];
  private readonly params = new Map<string, Param>();
  private readonly adamStep: AdamWStep;
  /** [2, D]: running_mean, running_var. */
  readonly running: Tensor<'f32'>;
  /** [2]: the last step's mean loss, and the sum since `resetLossSum`. */
  readonly loss: Tensor<'f32'>;
  private trainIndex!: Tensor<'u32'>;
  private trainLabels!: Tensor<'u32'>;
  private evalIndex!: Tensor<'u32'>;
  private logits!: Tensor<'f32'>;
  /** The evaluation's attention-pooling weights [E, H, N] (attentive only). */
  private evalProbs?: Tensor<'f32'>;
  private trainDispatches: PreparedDispatch[] = [];
  private evalDispatches: PreparedDispatch[] = [];

  private constructor(
    private readonly ctx: GpuContext,
    readonly kind: ProbeKind,
    readonly shape: ProbeModelShape,
    readonly recipe: ProbeRecipe,
    readonly trainBatch: number,
    readonly evalBatch: number,
  ) {
    const D = shape.dim;
    this.running = this.tensor([2, D], 'probe bn running');
    this.running.upload([...new Array<number>(D).fill(0), ...new Array<number>(D).fill(1)]);
    this.loss = this.tensor([2], 'probe loss');
    this.adamStep = createAdamWStep(ctx, {
      beta1: recipe.betas[0],
      beta2: recipe.betas[1],
      eps: recipe.eps,
    });
  }

  private tensor(shape: number[], label: string): Tensor<'f32'> {
    const t = Tensor.empty(this.ctx, shape, 'f32', label);
    this.owned.push(t);
    return t;
  }

  private u32(shape: number[], label: string): Tensor<'u32'> {
    const t = Tensor.empty(this.ctx, shape, 'u32', label);
    this.owned.push(t);
    return t;
  }

  /**
   * A probe over `bank` (tokens [S, N, D] for attentive, pooled [S, D] for linear) with
   * `initial` parameter values (ml-aim keys, recipe.ts; with head.bn.* a trained probe's
   * running statistics).
   */
  static async create(
    ctx: GpuContext,
    kind: ProbeKind,
    shape: ProbeModelShape,
    recipe: ProbeRecipe,
    bank: Tensor<'f32'>,
    initial: ReadonlyMap<string, Float32Array>,
    batches: { train: number; eval: number },
  ): Promise<ProbeModel> {
    const m = new ProbeModel(ctx, kind, shape, recipe, batches.train, batches.eval);
    try {
      for (const [key, dims] of probeParamShapes(kind, shape.dim, shape.classes)) {
        const v = initial.get(key);
        if (!v) throw new RangeError(`probe: no initial value for ${key}`);
        const value = m.tensor(dims, key);
        value.upload(v);
        const grad = m.tensor(dims, `${key} grad`);
        const state = createAdamWState(ctx, value, key);
        m.owned.push(state.expAvg, state.expAvgSq);
        m.params.set(key, { value, grad, ...state });
      }
      // A trained probe's statistics (classifying with a probe file); else torch's 0 and 1.
      const mean = initial.get('head.bn.running_mean');
      const variance = initial.get('head.bn.running_var');
      if (mean && variance) m.running.upload([...mean, ...variance]);
      m.steps = initial.get('head.bn.num_batches_tracked')?.[0] ?? 0;
      await m.prepare(bank);
      return m;
    } catch (error) {
      m.destroy();
      throw error;
    }
  }

  private p(key: string): Param {
    return this.params.get(key)!;
  }

  /** The classifier, its loss and backward, the pooling's, for `B` rows of normalised input. */
  private async prepare(bank: Tensor<'f32'>): Promise<void> {
    const { ctx, kind } = this;
    const { dim: D, heads: H, classes: C } = this.shape;
    const attentive = kind === 'attentive';
    const N = attentive ? this.shape.tokens : 1;
    const B = this.trainBatch;
    const E = this.evalBatch;
    const bnShape = (batch: number) => ({ batch, tokens: N, dim: D });
    const poolShape = (batch: number) => ({ batch, tokens: N, heads: H, headDim: D / H });
    const W = this.p('head.linear.weight');
    const bias = this.p('head.linear.bias');
    this.trainIndex = this.u32([B], 'probe train index');
    this.trainLabels = this.u32([B], 'probe train labels');
    this.evalIndex = this.u32([E], 'probe eval index');
    this.logits = this.tensor([E, C], 'probe eval logits');

    /** Forward from normalised input x̂ [batch·N, D] to `logits`; returns what the backward needs. */
    const forward = async (batch: number, xhat: Tensor<'f32'>, logits: Tensor<'f32'>) => {
      const list: PreparedDispatch[] = [];
      let pooled = attentive ? xhat : xhat.view([batch, D]);
      let saved: { k: Tensor<'f32'>; v: Tensor<'f32'>; probs: Tensor<'f32'> } | undefined;
      if (attentive) {
        const k = this.tensor([batch * N, D], 'probe k');
        const v = this.tensor([batch * N, D], 'probe v');
        const probs = this.tensor([batch, H, N], 'probe probs');
        pooled = this.tensor([batch, D], 'probe pooled');
        list.push(
          ...(await prepareMatmul(
            ctx,
            { a: xhat, b: this.p('head.k.weight').value, c: k },
            { transB: true },
          )),
          ...(await prepareMatmul(
            ctx,
            { a: xhat, b: this.p('head.v.weight').value, c: v },
            { transB: true },
          )),
          ...(await prepareProbeAttentionPoolForward(
            ctx,
            {
              q: this.p('head.cls_token').value,
              k: k.view([batch, N, D]),
              v: v.view([batch, N, D]),
              pooled,
              probs,
            },
            poolShape(batch),
          )),
        );
        saved = { k, v, probs };
      }
      list.push(
        ...(await prepareMatmul(
          ctx,
          { a: pooled, b: W.value, c: logits, bias: bias.value },
          { transB: true },
        )),
      );
      return { list, pooled, saved };
    };

    // Training step (none for a probe that only classifies: train batch 0).
    if (B > 0) await this.prepareTraining(bank, forward);

    // Evaluation: running statistics.
    const evalXhat = this.tensor([E * N, D], 'probe eval xhat');
    const evalList: PreparedDispatch[] = [
      ...(await prepareProbeBatchNormApply(
        ctx,
        { x: bank, index: this.evalIndex, stats: this.running, y: evalXhat.view([E, N, D]) },
        bnShape(E),
        { running: true },
      )),
    ];
    const evalForward = await forward(E, evalXhat, this.logits);
    evalList.push(...evalForward.list);
    this.evalProbs = evalForward.saved?.probs;
    this.evalDispatches = evalList;
  }

  /** The training step's dispatches (see the class header). */
  private async prepareTraining(
    bank: Tensor<'f32'>,
    forward: (
      batch: number,
      xhat: Tensor<'f32'>,
      logits: Tensor<'f32'>,
    ) => Promise<{
      list: PreparedDispatch[];
      pooled: Tensor<'f32'>;
      saved?: { k: Tensor<'f32'>; v: Tensor<'f32'>; probs: Tensor<'f32'> };
    }>,
  ): Promise<void> {
    const { ctx } = this;
    const { dim: D, heads: H, classes: C } = this.shape;
    const attentive = this.kind === 'attentive';
    const N = attentive ? this.shape.tokens : 1;
    const B = this.trainBatch;
    const bnShape = (batch: number) => ({ batch, tokens: N, dim: D });
    const poolShape = (batch: number) => ({ batch, tokens: N, heads: H, headDim: D / H });
    const W = this.p('head.linear.weight');
    const bias = this.p('head.linear.bias');
    const stats = this.tensor([2, D], 'probe bn stats');
    const xhat = this.tensor([B * N, D], 'probe xhat');
    const trainLogits = this.tensor([B, C], 'probe logits');
    const dlogits = this.tensor([B, C], 'probe dlogits');
    const train: PreparedDispatch[] = [
      ...(await prepareProbeBatchNormStats(
        ctx,
        { x: bank, index: this.trainIndex, stats, running: this.running },
        bnShape(B),
      )),
      ...(await prepareProbeBatchNormApply(
        ctx,
        { x: bank, index: this.trainIndex, stats, y: xhat.view([B, N, D]) },
        bnShape(B),
      )),
    ];
    const fwd = await forward(B, xhat, trainLogits);
    train.push(...fwd.list);
    train.push(
      ...(await prepareProbeCrossEntropy(
        ctx,
        { logits: trainLogits, labels: this.trainLabels, dlogits, loss: this.loss },
        { batch: B, classes: C },
      )),
      // dW = dlogitsᵀ·pooled, db = Σ_b dlogits.
      ...(await prepareMatmul(ctx, { a: dlogits, b: fwd.pooled, c: W.grad }, { transA: true })),
      ...(await prepareColumnSum(ctx, { x: dlogits, out: bias.grad })),
    );
    if (attentive && fwd.saved) {
      const { k, v, probs } = fwd.saved;
      const dPooled = this.tensor([B, D], 'probe dpooled');
      const dqSample = this.tensor([B, D], 'probe dq per sample');
      const dk = this.tensor([B * N, D], 'probe dk');
      const dv = this.tensor([B * N, D], 'probe dv');
      const cls = this.p('head.cls_token');
      train.push(
        ...(await prepareMatmul(ctx, { a: dlogits, b: W.value, c: dPooled })),
        ...(await prepareProbeAttentionPoolBackward(
          ctx,
          {
            q: cls.value,
            k: k.view([B, N, D]),
            v: v.view([B, N, D]),
            probs,
            pooled: fwd.pooled,
            dPooled,
            dqSample,
            dk: dk.view([B, N, D]),
            dv: dv.view([B, N, D]),
          },
          poolShape(B),
        )),
        ...(await prepareColumnSum(ctx, { x: dqSample, out: cls.grad.view([D]) })),
        ...(await prepareMatmul(
          ctx,
          { a: dk, b: xhat, c: this.p('head.k.weight').grad },
          { transA: true },
        )),
        ...(await prepareMatmul(
          ctx,
          { a: dv, b: xhat, c: this.p('head.v.weight').grad },
          { transA: true },
        )),
      );
    }
    train.push(
      ...(await prepareAdamW(ctx, {
        params: [...this.params].map(([key, p]) => ({
          param: p.value,
          grad: p.grad,
          expAvg: p.expAvg,
          expAvgSq: p.expAvgSq,
          weightDecay: decays(key) ? this.recipe.weightDecay : 0,
        })),
        step: this.adamStep,
      })),
    );
    this.trainDispatches = train;
  }

  /** One optimizer step on bank samples `index` with `labels`, at learning rate `lr`. */
  async trainStep(index: Uint32Array, labels: Uint32Array, lr: number): Promise<void> {
    if (this.trainBatch === 0)
      throw new RangeError('probe: this probe was created to classify only');
    this.trainIndex.upload(index);
    this.trainLabels.upload(labels);
    this.steps++;
    writeAdamWStep(this.ctx, this.adamStep, this.steps, lr);
    await runDispatches(this.ctx, this.trainDispatches);
  }

  /** Logits [n, C] of bank samples `index` (n ≤ the eval batch), in eval mode. */
  async logitsOf(index: Uint32Array): Promise<Float32Array> {
    const n = index.length;
    if (n > this.evalBatch)
      throw new RangeError(`probe: ${n} samples exceed the eval batch ${this.evalBatch}`);
    const padded = new Uint32Array(this.evalBatch);
    padded.set(index);
    this.evalIndex.upload(padded);
    await runDispatches(this.ctx, this.evalDispatches);
    return (await this.logits.download()).slice(0, n * this.shape.classes);
  }

  /**
   * The attention-pooling weights [n, H, N] of the last `logitsOf` call's first n samples:
   * per head, how much each token contributed to the pooled feature (attentive only).
   */
  async attentionOf(n: number): Promise<Float32Array> {
    if (!this.evalProbs) throw new RangeError('probe: a linear probe has no attention');
    const { heads: H, tokens: N } = this.shape;
    return (await this.evalProbs.download()).slice(0, n * H * N);
  }

  /** The mean of the per-step losses since the last call (and restarts the sum). */
  async takeMeanLoss(steps: number): Promise<number> {
    const [, sum] = await this.loss.download();
    this.loss.upload([0, 0]);
    return steps > 0 ? sum / steps : NaN;
  }

  /** Current parameter gradients (tests compare one step with the float64 reference). */
  async gradients(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [key, p] of this.params) out.set(key, await p.grad.download());
    return out;
  }

  /**
   * The probe's weights under ml-aim's keys: head.* parameters, BatchNorm running statistics
   * and num_batches_tracked (one per optimizer step, as torch counts forward passes in training).
   */
  async weights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [key, p] of this.params) out.set(key, await p.value.download());
    const running = await this.running.download();
    const D = this.shape.dim;
    out.set('head.bn.running_mean', running.slice(0, D));
    out.set('head.bn.running_var', running.slice(D));
    out.set('head.bn.num_batches_tracked', Float32Array.of(this.steps));
    return out;
  }

  destroy(): void {
    for (const d of [...this.trainDispatches, ...this.evalDispatches]) releaseDispatch(d);
    this.trainDispatches = [];
    this.evalDispatches = [];
    this.adamStep.buffer.destroy();
    for (const t of this.owned) t.destroy();
  }
}
