// LayerNorm forward over the last dimension of a row-major [rows, dim] f32 matrix, as
// torch.nn.LayerNorm (biased variance, eps inside the square root):
//   mean[r] = Σ_i x[r,i] / dim
//   rstd[r] = 1 / sqrt(Σ_i (x[r,i] − mean[r])² / dim + eps)
//   y[r,i]  = (x[r,i] − mean[r]) · rstd[r] · weight[i] + bias[i]
// mean and rstd are saved for the backward (layernorm_backward.wgsl).
//
// One workgroup per row: THREADS invocations (an override constant, a power of two from 32
// to 256 that the wrapper picks from dim so that small rows do not leave most invocations
// idle) stride over the row, then a shared-memory tree reduction combines their partial
// sums — no subgroups, so it runs on every adapter. The mean and the variance are two
// separate passes over the row (the second sums squares of x − mean), which avoids the
// cancellation of E[x²] − E[x]² in f32. Rows beyond 65535 spread over a 2-D grid whose
// index is folded back; the surplus workgroups return at once (a uniform branch, so the
// barriers below stay in uniform control flow).

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
  _pad: u32,
}

override THREADS: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

// #include "workgroup_reduce.wgsl"

@compute @workgroup_size(THREADS)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wg.y * groups.x + wg.x;
  if (row >= params.rows) {
    return;
  }
  let dim = params.dim;
  let base = row * dim;
  let n = f32(dim);

  var sum = 0.0;
  for (var i = lid; i < dim; i = i + THREADS) {
    sum = sum + x[base + i];
  }
  let mu = workgroupSum(lid, sum) / n;

  var squares = 0.0;
  for (var i = lid; i < dim; i = i + THREADS) {
    let d = x[base + i] - mu;
    squares = fma(d, d, squares);
  }
  let r = inverseSqrt(workgroupSum(lid, squares) / n + params.eps);

  for (var i = lid; i < dim; i = i + THREADS) {
    y[base + i] = fma((x[base + i] - mu) * r, weight[i], bias[i]);
  }
  if (lid == 0u) {
    mean[row] = mu;
    rstd[row] = r;
  }
}
