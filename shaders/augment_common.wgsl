// Shared by augment_rows.wgsl and augment_cols.wgsl: the per-sample record and PIL's
// fixed-point bicubic arithmetic (src/data/resize.ts is the reference it must equal).
//
// One record of SAMPLE_WORDS u32 per image of the batch (written by src/kernels/augment.ts):
//   0 chunk        which image chunk buffer holds the image (0…3)
//   1 byteOffset   the image's first byte in that chunk ([H, W, 3] uint8, packed 4 per u32)
//   2 srcTop       the crop's first row in the image
//   3 srcLeft      the crop's first column
//   4 srcHeight    the crop's rows (the rows the horizontal pass resamples)
//   5 colTable     i32 offset of the horizontal coefficient table in `coefficients`
//   6 colTaps      that table's taps per output (PIL's ksize)
//   7 rowTable     the vertical table
//   8 rowTaps
//   9 outTop       first resized row kept (evaluation's centre crop; 0 for training)
//  10 outLeft      first resized column kept
//  11 flip         1: mirror the output horizontally
// A table holds, per resized output index i: first tap, tap count, then `taps` weights in
// 22-bit fixed point (PIL's normalize_coeffs_8bpc), so entry i starts at table + i·(2 + taps).

const SAMPLE_WORDS: u32 = 12u;
const PRECISION_BITS: u32 = 22u;
const HALF: i32 = 1 << 21u;

struct AugmentParams {
  batch: u32,
  height: u32, // stored image rows (and the rows of the intermediate buffer per image)
  width: u32, // stored image columns
  size: u32, // output side S
}

// PIL's clip8: floor(sum / 2^22) (an arithmetic shift floors negatives too), clamped to 0…255.
fn clip8(sum: vec3<i32>) -> vec3<u32> {
  return vec3<u32>(clamp(sum >> vec3<u32>(PRECISION_BITS), vec3<i32>(0), vec3<i32>(255)));
}

fn packRgb(c: vec3<u32>) -> u32 {
  return c.x | (c.y << 8u) | (c.z << 16u);
}

fn unpackRgb(p: u32) -> vec3<i32> {
  return vec3<i32>(vec3<u32>(p & 255u, (p >> 8u) & 255u, (p >> 16u) & 255u));
}
