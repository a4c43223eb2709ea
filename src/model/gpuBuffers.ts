/**
 * GPU storage of the AIM model: parameter and gradient tensors by state-dict key, a pool
 * that owns activations and scratch (freed together), and reshaped views of one buffer
 * (activations are stored [B·K, width] for the token-wise matmuls and viewed [B, K, width]
 * by attention, positions and the loss).
 */
import { partialsReduceTableEntries } from '../kernels/gradientPartials';
import type { GpuContext } from '../gpu/context';
import type { PreparedDispatch } from '../gpu/dispatch';
import { numel, Tensor, type DType } from '../gpu/tensor';
import { positionalEmbeddingTable } from '../kernels/posembed';
import { arenaLayout, type ParameterTensors, type TensorAllocator } from './allocation';
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

/**
 * Allocates tensors on the GPU and frees them all at once: the allocator the walks of
 * allocation.ts run on for real (the buffer's role only matters to memory.ts's counter).
 */
export class TensorPool implements TensorAllocator<Tensor<'f32'>, Tensor<'u32'>> {
  private readonly tensors: Tensor[] = [];

  constructor(readonly ctx: GpuContext) {}

  f32(shape: readonly number[], label: string): Tensor<'f32'> {
    return this.adopt(Tensor.empty(this.ctx, shape, 'f32', label));
  }

  u32(shape: readonly number[], label: string): Tensor<'u32'> {
    return this.adopt(Tensor.empty(this.ctx, shape, 'u32', label));
  }

  /** The arena's buffers (owned by the pool) and a view per shape (see arenaLayout). */
  f32Arena(shapes: readonly (readonly number[])[], label: string): Tensor<'f32'>[] {
    const { bufferBytes, slots } = arenaLayout(shapes.map(numel));
    const buffers = bufferBytes.map((bytes, i) => this.f32([bytes / 4], `${label} arena ${i}`));
    return slots.map(({ buffer, byteOffset }, i) =>
      buffers[buffer].slice(byteOffset, shapes[i], label),
    );
  }

  sinCosTable(grid: number, dim: number): Tensor<'f32'> {
    return this.adopt(positionalEmbeddingTable(this.ctx, grid, grid, dim));
  }

  /** Takes ownership of a tensor made elsewhere. */
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

/**
 * One f32 tensor per parameter and one per gradient, in ml-aim's shapes, by key: views into
 * the parameter and gradient arenas (allocated by allocation.ts's allocateParameters).
 */
export class ParameterStore {
  private readonly values: ReadonlyMap<string, Tensor<'f32'>>;
  private readonly gradients: ReadonlyMap<string, Tensor<'f32'>>;
  readonly specs: readonly ParamSpec[];

  /**
   * `partials`: allocation.ts's gradientPartials (per gradient, a partials scratch of its own),
   * absent for a trunk-only model.
   */
  constructor(
    tensors: ParameterTensors,
    private readonly partials: ReadonlyMap<string, Tensor<'f32'>> = new Map(),
  ) {
    this.specs = tensors.specs;
    this.values = tensors.values;
    this.gradients = tensors.gradients;
  }

  /**
   * The split-K partials of weight gradient `name` alone (undefined: never split on any
   * adapter, or no gradients): its reduce can be deferred (partialsReduce.ts).
   */
  gradientPartials(name: string): Tensor<'f32'> | undefined {
    return this.partials.get(name);
  }

  /**
   * Entries of a partials_reduce table covering every gradient with partials whose name
   * `include` accepts (partialsReduceTableEntries): what one merged pass's table is padded to.
   */
  partialsTableEntries(include: (name: string) => boolean): number {
    const sizes = [...this.partials.keys()].filter(include).map((n) => this.grad(n).size);
    return partialsReduceTableEntries(sizes);
  }

  /** The LayerNorm `prefix`'s own weight and bias partials, when allocated. */
  normPartials(prefix: string): { weight: Tensor<'f32'>; bias: Tensor<'f32'> } | undefined {
    const weight = this.partials.get(`${prefix}.weight`);
    const bias = this.partials.get(`${prefix}.bias`);
    return weight && bias ? { weight, bias } : undefined;
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
