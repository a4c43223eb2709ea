// LayerNorm backward, last step of the parameter gradients: the per-chunk partial sums that
// layernorm_backward.wgsl's `param_grad_partials` wrote ([chunks, dim] for dweight and the
// same for dbias) summed over the chunks, both in ONE dispatch:
//   dweight[i] (+)= Σ_c weightPartials[c, i],   dbias[i] (+)= Σ_c biasPartials[c, i].
// One invocation per column, adding the chunks in order (chunks = ⌈rows / 256⌉, 256 for
// 65536 rows); consecutive invocations read consecutive columns (coalesced). Replaces two
// column_sum dispatches (and their passes) per LayerNorm. ACCUMULATE: += (micro-batches).
//
// Layout: flat (flat_index.wgsl), one invocation per column.

struct Params {
  chunks: u32,
  dim: u32,
}

override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> weightPartials: array<f32>;
@group(0) @binding(1) var<storage, read> biasPartials: array<f32>;
@group(0) @binding(2) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// #include "flat_index.wgsl"

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let col = flatIndex(wg, groups, lid);
  if (col >= params.dim) {
    return;
  }
  var w = 0.0;
  var b = 0.0;
  for (var c = 0u; c < params.chunks; c = c + 1u) {
    w = w + weightPartials[c * params.dim + col];
    b = b + biasPartials[c * params.dim + col];
  }
  if (ACCUMULATE) {
    w = dweight[col] + w;
    b = dbias[col] + b;
  }
  dweight[col] = w;
  dbias[col] = b;
}
