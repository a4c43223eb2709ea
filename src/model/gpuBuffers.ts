/**
 * GPU storage of the AIM model: parameter and gradient tensors by state-dict key, a pool
 * that owns activations and scratch (freed together), and reshaped views of one buffer
 * (activations are stored [B·K, width] for the token-wise matmuls and viewed [B, K, width]
 * by attention, positions and the loss).
 */
import type { GpuContext } from '../gpu/context';
import type { PreparedDispatch } from '../gpu/dispatch';
import { Tensor, type DType } from '../gpu/tensor';
import { paramSize, type ParamSpec } from './params';

/** A dispatch (or an ordered list of them) still being prepared. */
export type PendingDispatches = Promise<PreparedDispatch | PreparedDispatch[]>;

/**
 * Awaits dispatches prepared concurrently, keeping their order. Starting every preparation
 * at once lets pipeline compilations overlap where the implementation compiles
 * asynchronously (identical kernel keys share one compilation in the registry); on
 * SwiftShader with two cores it measured the same as preparing them one by one.
 */
export async function gather(pending: readonly PendingDispatches[]): Promise<PreparedDispatch[]> {
  return (await Promise.all(pending)).flat();
}

/** Allocates tensors and frees them all at once. */
export class TensorPool {
  private readonly tensors: Tensor[] = [];

  constructor(readonly ctx: GpuContext) {}

  f32(shape: readonly number[], label: string): Tensor<'f32'> {
    const t = Tensor.empty(this.ctx, shape, 'f32', label);
    this.tensors.push(t);
    return t;
  }

  u32(shape: readonly number[], label: string): Tensor<'u32'> {
    const t = Tensor.empty(this.ctx, shape, 'u32', label);
    this.tensors.push(t);
    return t;
  }

  /** Takes ownership of a tensor made elsewhere (e.g. a positional table). */
  adopt<D extends DType>(t: Tensor<D>): Tensor<D> {
    this.tensors.push(t);
    return t;
  }

  /** Bytes held by the pool. */
  get bytes(): number {
    return this.tensors.reduce((n, t) => n + t.byteLength, 0);
  }

  destroy(): void {
    for (const t of this.tensors) t.destroy();
    this.tensors.length = 0;
  }
}

/** One f32 tensor per parameter and one per gradient, in ml-aim's shapes, by key. */
export class ParameterStore {
  private readonly values = new Map<string, Tensor<'f32'>>();
  private readonly gradients = new Map<string, Tensor<'f32'>>();
  readonly specs: readonly ParamSpec[];

  constructor(pool: TensorPool, specs: readonly ParamSpec[], { gradients = true } = {}) {
    this.specs = specs;
    for (const spec of specs) {
      this.values.set(spec.name, pool.f32(spec.shape, spec.name));
      if (gradients) this.gradients.set(spec.name, pool.f32(spec.shape, `grad ${spec.name}`));
    }
  }

  get names(): string[] {
    return this.specs.map((s) => s.name);
  }

  param(name: string): Tensor<'f32'> {
    const t = this.values.get(name);
    if (!t) throw new RangeError(`AIM model: no parameter ${name}`);
    return t;
  }

  grad(name: string): Tensor<'f32'> {
    const t = this.gradients.get(name);
    if (!t) throw new RangeError(`AIM model: no gradient for ${name}`);
    return t;
  }

  /** A Linear weight as a 2-D [out, in] matrix (the patch conv [D, 3, p, p] as [D, 3·p·p]). */
  matrix(name: string): Tensor<'f32'> {
    const t = this.param(name);
    return t.shape.length === 2 ? t : t.view([t.shape[0], t.size / t.shape[0]]);
  }

  gradMatrix(name: string): Tensor<'f32'> {
    const t = this.grad(name);
    return t.shape.length === 2 ? t : t.view([t.shape[0], t.size / t.shape[0]]);
  }

  upload(name: string, data: Float32Array | readonly number[]): void {
    const spec = this.specs.find((s) => s.name === name);
    if (spec && data.length !== paramSize(spec))
      throw new RangeError(
        `AIM model: ${name} takes ${paramSize(spec)} values [${spec.shape.join(', ')}], got ${data.length}`,
      );
    this.param(name).upload(data);
  }

  async download(name: string): Promise<Float32Array> {
    return this.param(name).download();
  }

  async downloadGradient(name: string): Promise<Float32Array> {
    return this.grad(name).download();
  }
}
