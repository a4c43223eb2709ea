// The probes' BatchNorm1d (affine=False) applied: y[r, c] = (x[src(r), c] − mean[c])·invStd[c]
// over rows r of R = B·N tokens, D channels.
//   default: mean and invStd from `stats` [2, D] (probe_bn_stats.wgsl: the batch's, training)
//   RUNNING: from the running statistics `stats` = [running_mean; running_var] [2, D], with
//            invStd = 1 / sqrt(running_var + eps) (torch's eval mode)
// GATHER: rows of sample b come from bank sample index[b] (see probe_bn_stats.wgsl).
// No backward: BatchNorm without affine has no parameters and the trunk before it is frozen,
// so no gradient flows through it.
//
// Layout: flat, one invocation per output value (flat_index.wgsl).

// #include "flat_index.wgsl"

struct Params {
  n: u32,
  tokens: u32,
  dim: u32,
  eps: f32,
}

override GATHER: bool = false;
override RUNNING: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

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
  let r = i / dim;
  let c = i - r * dim;
  var src = r;
  if (GATHER) {
    let b = r / params.tokens;
    src = index[b] * params.tokens + (r - b * params.tokens);
  }
  var invStd = stats[dim + c];
  if (RUNNING) {
    invStd = inverseSqrt(stats[dim + c] + params.eps);
  }
  y[i] = (x[src * dim + c] - stats[c]) * invStd;
}
