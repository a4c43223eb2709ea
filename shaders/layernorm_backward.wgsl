// LayerNorm backward for y = x̂·w + b, x̂ = (x − mean)·rstd, over rows of a [rows, dim]
// matrix, from the forward's saved mean and rstd. Two entry points:
//
// `input_grad` — with g = dy·w:
//   dx[r,i] = rstd[r] · (g[r,i] − mean_i(g[r,·]) − x̂[r,i] · mean_i(g[r,·]·x̂[r,·]))
//   One workgroup per row (THREADS invocations, a power of two from 32 to 256 picked from
//   dim); both row means come from one shared-memory tree reduction of vec2 partial sums.
//   Rows beyond 65535 use a 2-D grid folded back into a row index, as in the forward.
//   ACCUMULATE: dx += … (a pre-norm block adds this to the residual path's gradient).
//
// `param_grad_partials` — dweight[i] = Σ_r dy[r,i]·x̂[r,i] and dbias[i] = Σ_r dy[r,i]
//   summed over one chunk of 256 rows per workgroup: workgroup (wg.x, wg.y) covers 64
//   columns × rows [256·wg.y, 256·wg.y + 256), as 64 column lanes × 4 row lanes (each row
//   lane reads 64 consecutive floats of a row: coalesced), and writes
//   weightPartials[wg.y, col], biasPartials[wg.y, col]. layernorm_param_reduce.wgsl then
//   adds the chunks of both up in one dispatch; two kernels instead of float atomics,
//   which WGSL does not have.
//
// The two entry points bind different variables at the same binding numbers; WGSL only
// forbids that within one entry point's interface, and each pipeline has its own layout.

struct Params {
  rows: u32,
  dim: u32,
  _pad0: u32,
  _pad1: u32,
}

override THREADS: u32 = 256u;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// input_grad only
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;

// param_grad_partials only
@group(0) @binding(5) var<storage, read_write> weightPartials: array<f32>;
@group(0) @binding(6) var<storage, read_write> biasPartials: array<f32>;

var<workgroup> rowPartial: array<vec2<f32>, THREADS>;

@compute @workgroup_size(THREADS)
fn input_grad(
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
  let mu = mean[row];
  let r = rstd[row];

  // (Σ g, Σ g·x̂) over this invocation's share of the row.
  var sums = vec2<f32>(0.0, 0.0);
  for (var i = lid; i < dim; i = i + THREADS) {
    let g = dy[base + i] * weight[i];
    let xhat = (x[base + i] - mu) * r;
    sums = sums + vec2<f32>(g, g * xhat);
  }
  rowPartial[lid] = sums;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      rowPartial[lid] = rowPartial[lid] + rowPartial[lid + stride];
    }
    workgroupBarrier();
  }
  let means = rowPartial[0] / f32(dim);

  for (var i = lid; i < dim; i = i + THREADS) {
    let g = dy[base + i] * weight[i];
    let xhat = (x[base + i] - mu) * r;
    var v = r * (g - means.x - xhat * means.y);
    if (ACCUMULATE) {
      v = v + dx[base + i];
    }
    dx[base + i] = v;
  }
}

const TILE_COLS: u32 = 64u;
const ROW_LANES: u32 = 4u;
const CHUNK_ROWS: u32 = 256u;

var<workgroup> laneWeight: array<f32, 256>; // [row lane][column], ROW_LANES × TILE_COLS
var<workgroup> laneBias: array<f32, 256>;

@compute @workgroup_size(TILE_COLS, ROW_LANES, 1)
fn param_grad_partials(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let col = wg.x * TILE_COLS + lid.x;
  let rowStart = wg.y * CHUNK_ROWS;
  let rowEnd = min(rowStart + CHUNK_ROWS, params.rows);
  var dw = 0.0;
  var db = 0.0;
  if (col < params.dim) {
    for (var row = rowStart + lid.y; row < rowEnd; row = row + ROW_LANES) {
      let index = row * params.dim + col;
      let g = dy[index];
      dw = fma(g, (x[index] - mean[row]) * rstd[row], dw);
      db = db + g;
    }
  }
  let slot = lid.y * TILE_COLS + lid.x;
  laneWeight[slot] = dw;
  laneBias[slot] = db;
  workgroupBarrier();
  if (lid.y == 0u && col < params.dim) {
    var totalWeight = laneWeight[lid.x];
    var totalBias = laneBias[lid.x];
    for (var lane = 1u; lane < ROW_LANES; lane = lane + 1u) {
      totalWeight = totalWeight + laneWeight[lane * TILE_COLS + lid.x];
      totalBias = totalBias + laneBias[lane * TILE_COLS + lid.x];
    }
    weightPartials[wg.y * params.dim + col] = totalWeight;
    biasPartials[wg.y * params.dim + col] = totalBias;
  }
}
