// Cuts an NCHW image batch [B, C, H, W] into p×p patches, one output row per token:
//   out[b, t, j] = image[b, c, pr·p + r, pc·p + q]   with (pr, pc) the grid position of
//   patch src = order[t] (raster index src = pr·gridW + pc; src = t without an order).
// Two layouts of j (TARGET_LAYOUT):
//   false  j = (c·p + r)·p + q   the patch-embedding input [B, T, C·p·p]: a Conv2d with
//                                kernel = stride = p is this matrix times its weight
//                                reshaped [D, C·p·p] (done by matmul.wgsl with transB);
//   true   j = (r·p + q)·C + c   the pixel-loss targets [B, T, p·p·C], channel fastest
//                                (ml-l3m's "b c (h p1) (w p2) -> b (h w) (p1 p2 c)").
// An order entry ≥ K (= gridH·gridW) is a caller's bug: that token's values are NaN, so it
// cannot pass unnoticed.
//
// Layout: one invocation per output value, in output order (flat_index.wgsl), so the
// writes are coalesced; the reads gather p consecutive pixels per patch row. Pure data
// movement with no reuse, so nothing is staged in shared memory.

struct Params {
  total: u32, // B·T·C·p·p
  tokens: u32, // T
  channels: u32,
  height: u32,
  width: u32,
  patchSize: u32,
  gridW: u32,
  positions: u32, // K = (H/p)·(W/p)
}

override TARGET_LAYOUT: bool = false;
override HAS_ORDER: bool = false;

@group(0) @binding(0) var<storage, read> image: array<f32>;
@group(0) @binding(1) var<storage, read> order: array<u32>;
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
  let o = flatIndex(wg, groups, lid);
  if (o >= params.total) {
    return;
  }
  let p = params.patchSize;
  let perPatch = params.channels * p * p;
  let j = o % perPatch;
  let token = o / perPatch; // b·T + t
  let t = token % params.tokens;
  let b = token / params.tokens;

  var src = t;
  if (HAS_ORDER) {
    src = order[t];
  }
  if (src >= params.positions) {
    out[o] = quietNaN();
    return;
  }

  var c: u32;
  var pixel: u32; // r·p + q
  if (TARGET_LAYOUT) {
    c = j % params.channels;
    pixel = j / params.channels;
  } else {
    c = j / (p * p);
    pixel = j % (p * p);
  }
  let row = (src / params.gridW) * p + pixel / p;
  let col = (src % params.gridW) * p + pixel % p;
  out[o] = image[((b * params.channels + c) * params.height + row) * params.width + col];
}
