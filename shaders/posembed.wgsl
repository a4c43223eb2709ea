// Adds a positional-embedding table to a batch of tokens:
//   y[b, t, d] = x[b, t, d] + table[src, d],   src = order[t] (src = t without an order)
// table is [K, D]: row k is the embedding of raster position k of the patch grid (ml-aim's
// fixed 2-D sin-cos, built once on the CPU in float64 by src/reference/posembed.ts and
// rounded to f32 — WGSL's sin/cos are only accurate to 2⁻¹¹ absolute on [−π, π], far
// worse than the table, and recomputing per step would be wasted work). With an order, a
// token keeps the embedding of its patch's true 2-D position whatever the sequence order.
// IN_PLACE: y += table (x unused) instead of y = x + table.
// An order entry ≥ K is a caller's bug: that token becomes NaN, so it cannot pass unnoticed.
//
// Layout: one invocation per value, in token-major order (flat_index.wgsl; coalesced reads
// and writes; the table row is shared by the B tokens at one sequence index and stays in
// cache).

struct Params {
  total: u32, // B·T·D
  tokens: u32, // T
  dim: u32, // D
  positions: u32, // K
}

override IN_PLACE: bool = false;
override HAS_ORDER: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

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
  let d = i % params.dim;
  let t = (i / params.dim) % params.tokens;
  var src = t;
  if (HAS_ORDER) {
    src = order[t];
  }
  var base: f32;
  if (IN_PLACE) {
    base = y[i];
  } else {
    base = x[i];
  }
  if (src >= params.positions) {
    y[i] = quietNaN();
    return;
  }
  y[i] = base + table[src * params.dim + d];
}
