/**
 * 4-bit block quantization of Linear weights in the layout of onnxruntime's
 * com.microsoft.MatMulNBits (bits 4, block 32, what its WebGPU EP runs):
 *
 *   W [N, K] (PyTorch's Linear layout [out, in]) is cut along K into k_blocks = ⌈K/32⌉
 *   blocks of 32 (the last one zero-padded). Each block gets a scale s and a zero point
 *   z ∈ [0, 15]; each value a code q ∈ [0, 15], and dequantizes to (q − z)·s.
 *
 *   B           uint8 [N, k_blocks, 16]   two codes a byte, the even index in the low nibble
 *   scales      f32   [N, k_blocks]
 *   zero_points uint8 [N, ⌈k_blocks/2⌉]   packed the same way, per row
 *
 * Asymmetric min/max quantization with 0 kept exactly representable (the range is widened
 * to include 0), as onnxruntime's own MatMul4BitsQuantizer does by default: the error of a
 * value is at most s/2 with s = (max − min)/15 of its block.
 */

export const INT4_BLOCK = 32;

export interface Int4Weight {
  n: number;
  k: number;
  blocks: number;
  /** [N, blocks, 16] */
  packed: Uint8Array;
  /** [N, blocks] */
  scales: Float32Array;
  /** [N, ⌈blocks/2⌉] */
  zeroPoints: Uint8Array;
}

export function quantizeInt4(w: Float32Array, n: number, k: number): Int4Weight {
  if (w.length !== n * k) throw new RangeError(`quantizeInt4: ${w.length} values for [${n}, ${k}]`);
  const blocks = Math.ceil(k / INT4_BLOCK);
  const zpBytes = Math.ceil(blocks / 2);
  const packed = new Uint8Array(n * blocks * (INT4_BLOCK / 2));
  const scales = new Float32Array(n * blocks);
  const zeroPoints = new Uint8Array(n * zpBytes);
  const codes = new Uint8Array(INT4_BLOCK);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const start = b * INT4_BLOCK;
      const end = Math.min(k, start + INT4_BLOCK);
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const v = w[row * k + i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      // s is stored as f32; quantize against the stored value so (q − z)·s is what we chose.
      const scale = Math.fround(hi > lo ? (hi - lo) / 15 : 1);
      const zero = Math.min(15, Math.max(0, Math.round(-lo / scale)));
      codes.fill(zero); // padding beyond K dequantizes to exactly 0
      const inv = 1 / scale;
      for (let i = start; i < end; i++) {
        const code = Math.round(w[row * k + i] * inv) + zero;
        codes[i - start] = code < 0 ? 0 : code > 15 ? 15 : code;
      }
      const base = (row * blocks + b) * (INT4_BLOCK / 2);
      for (let j = 0; j < INT4_BLOCK / 2; j++)
        packed[base + j] = codes[2 * j] | (codes[2 * j + 1] << 4);
      scales[row * blocks + b] = scale;
      zeroPoints[row * zpBytes + (b >> 1)] |= b & 1 ? zero << 4 : zero;
    }
  }
  return { n, k, blocks, packed, scales, zeroPoints };
}

/** The weights MatMulNBits computes with: (q − z)·s as [N, K] (the float64 reference's view). */
export function dequantizeInt4(q: Int4Weight): Float64Array {
  const { n, k, blocks } = q;
  const zpBytes = Math.ceil(blocks / 2);
  const out = new Float64Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let i = 0; i < k; i++) {
      const b = Math.floor(i / INT4_BLOCK);
      const within = i % INT4_BLOCK;
      const byte = q.packed[(row * blocks + b) * (INT4_BLOCK / 2) + (within >> 1)];
      const code = within & 1 ? byte >> 4 : byte & 15;
      const zpByte = q.zeroPoints[row * zpBytes + (b >> 1)];
      const zero = b & 1 ? zpByte >> 4 : zpByte & 15;
      out[row * k + i] = (code - zero) * q.scales[row * blocks + b];
    }
  }
  return out;
}
