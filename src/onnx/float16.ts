/** IEEE 754 binary32 → binary16 rounding (round to nearest, ties to even), for fp16 weights. */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bit pattern nearest to `value` (after rounding it to f32). */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  return f32BitsToHalfBits(u32[0]);
}

function f32BitsToHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf / NaN (quiet)
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → ±Inf
  if (e <= 0) {
    // A binary16 subnormal m·2^-24: m = mantissa24 >> (14 − e), rounded.
    if (e < -10) return sign; // below half the smallest subnormal → ±0
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let m = mantissa >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to Inf: the right result.
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function toFloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToHalfBits(bits[i]);
  return out;
}
