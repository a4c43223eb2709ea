// Elementwise exact-erf GELU, for activations not fused into a matmul epilogue:
//   entry `forward`:   y = gelu(x)
//   entry `backward`:  dx = dy · gelu'(x)      (x: the forward input)
// gelu and gelu_grad come from gelu_math.wgsl, the same definitions the matmul epilogue
// uses, so a fused and an unfused model compute identical values.
// ACCUMULATE: y += … / dx += … instead of overwriting (gradient accumulation).
//
// Layout: flat buffers of n values, one invocation per value (flat_index.wgsl).
// Memory-bound, so nothing is staged in shared memory.

// #include "gelu_math.wgsl"
// #include "flat_index.wgsl"

struct Params {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> dy: array<f32>;

@compute @workgroup_size(FLAT_WORKGROUP)
fn forward(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = flatIndex(wg, groups, lid);
  if (i >= params.n) {
    return;
  }
  var v = gelu(x[i]);
  if (ACCUMULATE) {
    v = v + y[i];
  }
  y[i] = v;
}

@compute @workgroup_size(FLAT_WORKGROUP)
fn backward(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = flatIndex(wg, groups, lid);
  if (i >= params.n) {
    return;
  }
  var v = dy[i] * gelu_grad(x[i]);
  if (ACCUMULATE) {
    v = v + y[i];
  }
  y[i] = v;
}
