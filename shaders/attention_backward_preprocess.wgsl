// Flash-attention backward, step 1: Δ[b, h, i] = Σ_d dO[b, i, h·dh + d] · O[b, i, h·dh + d]
// (= Σ_j P_ij dP_ij, the row term of dS = P ∘ (dP − Δ)), computed once here so that the
// dK/dV and dQ kernels, which each meet every row many times, only read it.
//
// Layout: dO and O are [B, T, D] with D = H·dh head-contiguous, so row (b, i, h) is the
// g-th run of dh contiguous floats, g = (b·T + i)·H + h. One invocation per run, a flat
// kernel over the B·T·H runs (flat_index.wgsl); Δ is written [B, H, T] like the forward's
// log-sum-exp.

struct PreprocessParams {
  seqLen: u32,
  heads: u32,
  headDim: u32,
  rows: u32, // B·T·H
}

@group(0) @binding(0) var<storage, read> dOut: array<f32>;
@group(0) @binding(1) var<storage, read> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> delta: array<f32>;
@group(0) @binding(3) var<uniform> params: PreprocessParams;

// #include "flat_index.wgsl"

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
) {
  let g = flatIndex(wg, groups, tid);
  if (g >= params.rows) {
    return;
  }
  let h = g % params.heads;
  let token = g / params.heads; // b·T + i
  let i = token % params.seqLen;
  let b = token / params.seqLen;
  let base = g * params.headDim;
  var sum = 0.0;
  for (var d = 0u; d < params.headDim; d++) {
    sum = fma(dOut[base + d], out[base + d], sum);
  }
  delta[(b * params.heads + h) * params.seqLen + i] = sum;
}
