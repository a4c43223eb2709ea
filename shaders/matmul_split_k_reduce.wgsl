// The second pass of a split-K matmul (src/kernels/matmulSplitK.ts): matmul.wgsl with SPLIT_K
// wrote one partial product per K-range into its own slice of `partials`
// ([batch][splits][M][N]); this flat kernel (one invocation per output) adds a value's
// `splits` partials in split order — a fixed order, so a run is bit-for-bit repeatable — and
// applies the same fused epilogue as the one-pass kernel (matmul_epilogue.wgsl).

// #include "flat_index.wgsl"

struct Params {
  outputs: u32, // batch · M · N
  N: u32,
  splits: u32,
  mn: u32, // M · N
}

override HAS_BIAS: bool = false;
override ACTIVATION: u32 = 0u;
override ADD_RESIDUAL: bool = false;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> aux: array<f32>;

// #include "matmul_epilogue.wgsl"

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = flatIndex(wg, groups, lid);
  if (i >= params.outputs) {
    return;
  }
  let entry = i / params.mn;
  let within = i % params.mn;
  let base = entry * params.splits * params.mn + within;
  var sum = 0.0;
  for (var s = 0u; s < params.splits; s = s + 1u) {
    sum = sum + partials[base + s * params.mn];
  }
  C[i] = matmulEpilogue(sum, i, within % params.N);
}
