// The linear probe's pooling: the mean over the N tokens of each sample,
//   out[b, c] = Σ_t x[b, t, c] / N          x [B, N, D] → out [B, D]
// (the tokens summed in order, then divided once, as torch's mean).
//
// Layout: flat, one invocation per output value (flat_index.wgsl); the N reads of one
// invocation are D apart, and neighbouring invocations read neighbouring channels.

// #include "flat_index.wgsl"

struct Params {
  n: u32,
  tokens: u32,
  dim: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = flatIndex(wg, groups, lid);
  if (i >= params.n) {
    return;
  }
  let dim = params.dim;
  let b = i / dim;
  let c = i - b * dim;
  let base = b * params.tokens * dim + c;
  var sum = 0.0;
  for (var t = 0u; t < params.tokens; t = t + 1u) {
    sum = sum + x[base + t * dim];
  }
  out[i] = sum / f32(params.tokens);
}
