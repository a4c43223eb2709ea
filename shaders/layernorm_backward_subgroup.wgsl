// LayerNorm backward, input gradient, subgroup variant: the math of layernorm_backward.wgsl's
// `input_grad`, with g = dy·w,
//   dx[r,i] = rstd[r] · (g[r,i] − mean_i(g[r,·]) − x̂[r,i] · mean_i(g[r,·]·x̂[r,·])),
// one subgroup per row and the two row sums by subgroupAdd (no shared memory, no barriers).
// Rows are dealt to subgroups as in layernorm_forward_subgroup.wgsl (see there why it is
// correct for any subgroup size). The parameter gradients keep layernorm_backward.wgsl's
// `param_grad_partials`. ACCUMULATE: dx += ….

enable subgroups;
diagnostic(off, subgroup_uniformity);

struct Params {
  rows: u32,
  dim: u32,
  _pad0: u32,
  _pad1: u32,
}

override WORKGROUP: u32 = 128u;
override ROWS_PER_WORKGROUP: u32 = 4u;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn input_grad(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
) {
  let firstRow = (wg.y * groups.x + wg.x) * ROWS_PER_WORKGROUP;
  let subgroups = WORKGROUP / lanes;
  let dim = params.dim;
  for (var k = lid / lanes; k < ROWS_PER_WORKGROUP; k = k + subgroups) {
    let row = firstRow + k;
    if (row >= params.rows) {
      break;
    }
    let base = row * dim;
    let mu = mean[row];
    let r = rstd[row];
    var sums = vec2<f32>(0.0, 0.0);
    for (var i = lane; i < dim; i = i + lanes) {
      let g = dy[base + i] * weight[i];
      let xhat = (x[base + i] - mu) * r;
      sums = sums + vec2<f32>(g, g * xhat);
    }
    let means = subgroupAdd(sums) / f32(dim);
    for (var i = lane; i < dim; i = i + lanes) {
      let g = dy[base + i] * weight[i];
      let xhat = (x[base + i] - mu) * r;
      var v = r * (g - means.x - xhat * means.y);
      if (ACCUMULATE) {
        v = v + dx[base + i];
      }
      dx[base + i] = v;
    }
  }
}
