/**
 * Writes weights in the chosen format and emits the nodes that read them: plain parameters
 * (f32, or f16 + Cast in fp16) and Linear layers (MatMul with the transposed weight, or
 * com.microsoft.MatMulNBits in int4), each checkpoint tensor read once.
 */
import type { WeightSource } from './checkpoint';
import { toFloat16Bits } from './float16';
import { DataType, MICROSOFT_DOMAIN, type GraphBuilder } from './graph';
import { INT4_BLOCK, quantizeInt4 } from './int4';

export type WeightFormat = 'fp32' | 'fp16' | 'int4';
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['fp32', 'fp16', 'int4'];

/** [rows, cols] → [cols, rows], in 64×64 tiles so both sides stay in cache (7B: 4096×16384). */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const T = 64;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++)
        for (let c = c0; c < c1; c++) out[c * rows + r] = w[r * cols + c];
    }
  }
  return out;
}

export function bytesOf(a: Float32Array | Uint16Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Frees an array this code allocated, once written, instead of leaving it to the next GC:
 * a 7B export makes 256 MiB copies one after another, and several waiting for the collector
 * were most of its peak heap. Where ArrayBuffer.prototype.transfer exists (ES2024), the
 * buffer is detached and its memory released now; elsewhere this does nothing.
 */
export function releaseArray(a: ArrayBufferView): void {
  const buffer = a.buffer as ArrayBuffer & {
    transfer?: (length: number) => ArrayBuffer;
    detached?: boolean;
  };
  if (buffer instanceof ArrayBuffer && typeof buffer.transfer === 'function' && !buffer.detached)
    buffer.transfer(0);
}

/** Emits weights in the chosen format: parameters (f32 / f16 + Cast) and Linears. */
export class WeightEmitter {
  private done = 0;

  constructor(
    private readonly g: GraphBuilder,
    readonly weights: WeightSource,
    private readonly format: WeightFormat,
    private readonly total: number,
    private readonly onTensor?: (name: string, done: number, total: number) => void,
  ) {}

  /** Reads one checkpoint tensor as f32 (each is read exactly once). */
  async read(name: string): Promise<Float32Array> {
    const data = await this.weights.readFloat32(name);
    this.done++;
    this.onTensor?.(name, this.done, this.total);
    return data;
  }

  /** A derived f32 constant (positions, folded BatchNorm, scaled query): f32 in every format. */
  derived(name: string, data: Float32Array, dims: number[]): Promise<string> {
    return this.g.external(name, DataType.FLOAT, dims, bytesOf(data));
  }

  /** A non-Linear tensor (norms, biases, conv, constants): f32, or f16 + Cast in fp16. */
  async constant(name: string, data: Float32Array, dims: number[]): Promise<string> {
    if (this.format !== 'fp16') return this.g.external(name, DataType.FLOAT, dims, bytesOf(data));
    const half = toFloat16Bits(data);
    const stored = await this.g.external(`${name}_fp16`, DataType.FLOAT16, dims, bytesOf(half));
    releaseArray(half);
    return this.g.op('Cast', [stored], { to: DataType.FLOAT }, { output: name });
  }

  async param(name: string, dims: number[]): Promise<string> {
    return this.constant(name, await this.read(name), dims);
  }

  /** y = x·Wᵀ (+ b) for a state-dict Linear `<prefix>.weight` [out, in]. */
  async linear(x: string, prefix: string, out: number, inDim: number): Promise<string> {
    const wName = `${prefix}.weight`;
    const w = await this.read(wName);
    let y: string;
    if (this.format === 'int4') {
      const q = quantizeInt4(w, out, inDim);
      const b = await this.g.external(
        `${wName}_q4`,
        DataType.UINT8,
        [out, q.blocks, INT4_BLOCK / 2],
        q.packed,
      );
      const s = await this.g.external(
        `${wName}_scales`,
        DataType.FLOAT,
        [out, q.blocks],
        bytesOf(q.scales),
      );
      const z = await this.g.external(
        `${wName}_zero_points`,
        DataType.UINT8,
        [out, Math.ceil(q.blocks / 2)],
        q.zeroPoints,
      );
      y = this.g.op(
        'MatMulNBits',
        [x, b, s, z],
        { K: inDim, N: out, bits: 4, block_size: INT4_BLOCK },
        { domain: MICROSOFT_DOMAIN, hint: prefix },
      );
    } else {
      // MatMul wants [in, out]: transpose once here rather than per run in the graph.
      const transposed = transpose(w, out, inDim);
      const wt = await this.constant(`${wName}_t`, transposed, [inDim, out]);
      releaseArray(transposed);
      y = this.g.op('MatMul', [x, wt], {}, { hint: prefix });
    }
    if (this.weights.has(`${prefix}.bias`)) {
      y = this.g.op('Add', [y, await this.param(`${prefix}.bias`, [out])], {}, { hint: prefix });
    }
    return y;
  }
}
