/**
 * The argument checks every kernel wrapper makes, each failure worded one way:
 *   `op: what is [shape], expected …`     (sizes and shapes)
 *   `op: what must be u32, is f32`        (dtypes)
 *   `op: out must not be the same buffer as x` (aliasing: a kernel reading what it writes races)
 * They throw RangeError before anything is compiled or allocated.
 */
import type { DType, Tensor } from '../gpu/tensor';

/** `[2,3,4]`: how shapes appear in every message. */
export function dims(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** t holds exactly `size` values (any shape: kernels view buffers flat); `expected` names them. */
export function requireSize(
  op: string,
  what: string,
  t: Tensor,
  size: number,
  expected = `[${size}]`,
): void {
  if (t.size !== size)
    throw new RangeError(`${op}: ${what} is ${dims(t.shape)}, expected ${expected}`);
}

/** t has exactly `shape`. */
export function requireShape(op: string, what: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i]))
    throw new RangeError(`${op}: ${what} is ${dims(t.shape)}, expected ${dims(shape)}`);
}

/** t holds as many values as `like` (named `likeName`), whatever the two shapes. */
export function requireSameSize(
  op: string,
  what: string,
  t: Tensor,
  likeName: string,
  like: Tensor,
): void {
  if (t.size !== like.size)
    throw new RangeError(
      `${op}: ${what} is ${dims(t.shape)} (${t.size} values), expected ${like.size} values like ${likeName} ${dims(like.shape)}`,
    );
}

export function requireDtype(op: string, what: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new RangeError(`${op}: ${what} must be ${dtype}, is ${t.dtype}`);
}

/** A one-value result or operand (a loss, a norm, a count) has somewhere to live. */
export function requireOneValue(op: string, what: string, t: Tensor | undefined): void {
  if (t && t.size < 1) throw new RangeError(`${op}: ${what} needs at least one value`);
}

/** A buffer, or a tensor standing for its buffer. */
export type Bound = Tensor | GPUBuffer;

/** The bytes a buffer or a tensor (a view into an arena: only its own slot) is bound to. */
function extentOf(b: Bound): { buffer: GPUBuffer; start: number; end: number } {
  if ('buffer' in b) {
    const { buffer, offset = 0, size = 0 } = b.binding;
    return { buffer, start: offset, end: offset + size };
  }
  return { buffer: b, start: 0, end: b.size };
}

function sameBuffer(a: Bound, b: Bound): boolean {
  return extentOf(a).buffer === extentOf(b).buffer;
}

function overlap(a: Bound, b: Bound): boolean {
  const x = extentOf(a);
  const y = extentOf(b);
  return x.buffer === y.buffer && x.start < y.end && y.start < x.end;
}

/**
 * Every output's buffer differs from every input's: a dispatch that writes a buffer it also
 * reads races (and WebGPU refuses a buffer bound both read-only and writable in one
 * dispatch). Outputs must not overlap one another (written twice), but may be disjoint
 * views of one arena (a LayerNorm's dweight and dbias in the gradient arena). Entries left
 * undefined (optional tensors not given) are skipped.
 */
export function requireDistinct(
  op: string,
  outputs: Readonly<Record<string, Bound | undefined>>,
  inputs: Readonly<Record<string, Bound | undefined>> = {},
): void {
  const outs = Object.entries(outputs);
  for (const [name, t] of outs) {
    if (!t) continue;
    for (const [other, u] of outs) {
      if (u && other !== name && overlap(t, u))
        throw new RangeError(`${op}: ${name} must not be the same buffer as ${other}`);
    }
    for (const [other, u] of Object.entries(inputs)) {
      if (u && sameBuffer(t, u))
        throw new RangeError(`${op}: ${name} must not be the same buffer as ${other}`);
    }
  }
}

/** [R, N] with N the last dimension of `shape` and R the product of the others. */
export function asRowsCols(op: string, shape: readonly number[]): { rows: number; cols: number } {
  if (shape.length < 1) throw new RangeError(`${op}: a scalar has no columns`);
  const cols = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { rows, cols };
}
