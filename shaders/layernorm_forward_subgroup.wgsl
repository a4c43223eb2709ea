// LayerNorm forward, subgroup variant: the same math as layernorm_forward.wgsl (two passes,
// biased variance, eps inside the square root; mean and rstd saved), but ONE SUBGROUP PER
// ROW: each lane strides over the row and subgroupAdd combines the lanes — no shared memory
// and no barriers (the workgroup variant needs ~20 per row). For adapters with `subgroups`.
//
// Correct for any subgroup size (SwiftShader 4, NVIDIA 32, Intel 8–32, AMD 32/64): a
// workgroup of WORKGROUP invocations owns ROWS_PER_WORKGROUP consecutive rows, its
// WORKGROUP / subgroup_size subgroups take rows s, s + (number of subgroups), …, and every
// lane strides over the row by subgroup_size. Subgroup s is the invocations with
// local_invocation_index / subgroup_size = s: a 1-D workgroup whose size is a multiple of
// the subgroup size is split into subgroups of consecutive invocations (what Vulkan, Metal
// and D3D12 do for compute). WORKGROUP (128) is a multiple of every subgroup size.
//
// A row's loop bound depends on the subgroup, so the subgroup reductions sit in control
// flow that is uniform per subgroup but not per workgroup: subgroup_uniformity is switched
// off for that. Rows past the end leave their subgroup's loop, never a reduction half-way.

enable subgroups;
diagnostic(off, subgroup_uniformity);

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
  _pad: u32,
}

override WORKGROUP: u32 = 128u;
override ROWS_PER_WORKGROUP: u32 = 4u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
) {
  let firstRow = (wg.y * groups.x + wg.x) * ROWS_PER_WORKGROUP;
  let subgroups = WORKGROUP / lanes;
  let dim = params.dim;
  let n = f32(dim);
  for (var k = lid / lanes; k < ROWS_PER_WORKGROUP; k = k + subgroups) {
    let row = firstRow + k;
    if (row >= params.rows) {
      break;
    }
    let base = row * dim;
    var sum = 0.0;
    for (var i = lane; i < dim; i = i + lanes) {
      sum = sum + x[base + i];
    }
    let mu = subgroupAdd(sum) / n;
    var squares = 0.0;
    for (var i = lane; i < dim; i = i + lanes) {
      let d = x[base + i] - mu;
      squares = fma(d, d, squares);
    }
    let r = inverseSqrt(subgroupAdd(squares) / n + params.eps);
    for (var i = lane; i < dim; i = i + lanes) {
      y[base + i] = fma((x[base + i] - mu) * r, weight[i], bias[i]);
    }
    if (lane == 0u) {
      mean[row] = mu;
      rstd[row] = r;
    }
  }
}
