// Row gather: out[m, :] = src[index[m], :]  (ACCUMULATE: out[m, :] += src[index[m], :]).
// index[m] = NONE (0xffffffff) marks a row with no source: it is written as zeros (ACCUMULATE:
// left as it is). Any other index ≥ srcRows is a caller's bug: the row becomes NaN.
//
// The head runs only on the rows whose prediction counts (src/model/headRows.ts): this copies
// the counted rows of the post-trunk-norm output into a compact [M, D] block (padding rows
// zero), adds the head's positional rows (table[order[i]]) to the compact proj_in output,
// and scatters the compact d(post-norm output) back to [B·K, D] through the inverse index
// (zeros for the rows that do not count).
//
// Layout: one invocation per output value in row-major order (flat_index.wgsl); consecutive
// invocations read consecutive values of one source row, so reads and writes coalesce.

struct Params {
  total: u32, // M·D
  dim: u32, // D
  srcRows: u32,
}

const NONE: u32 = 0xffffffffu;

override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// #include "flat_index.wgsl"
// #include "quiet_nan.wgsl"

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = flatIndex(wg, groups, lid);
  if (i >= params.total) {
    return;
  }
  let row = index[i / params.dim];
  var value = 0.0;
  if (row != NONE) {
    if (row >= params.srcRows) {
      value = quietNaN();
    } else {
      value = src[row * params.dim + i % params.dim];
    }
  }
  if (ACCUMULATE) {
    out[i] = out[i] + value;
  } else {
    out[i] = value;
  }
}
