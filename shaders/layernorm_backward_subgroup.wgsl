// LayerNorm backward, input gradient, subgroup variant: the math of layernorm_backward.wgsl's
// `input_grad`, with g = dy·w,
//   dx[r,i] = rstd[r] · (g[r,i] − mean_i(g[r,·]) − x̂[r,i] · mean_i(g[r,·]·x̂[r,·])),
// one subgroup per row and the two row sums by subgroupAdd (no shared memory, no barriers).
// Rows are dealt to subgroups as in layernorm_forward_subgroup.wgsl (see there why it is
// correct for any subgroup size). The parameter gradients: layernorm_backward.wgsl's
// `param_grad_partials`, or in the same dispatch: `input_and_param_grads` below.
// ACCUMULATE: dx += ….

enable subgroups;
diagnostic(off, subgroup_uniformity);

struct Params {
  rows: u32,
  dim: u32,
  rowGroups: u32, // input_and_param_grads: workgroups of the input gradient
  colTiles: u32, // input_and_param_grads: ⌈dim / 64⌉
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
  inputGradRows((wg.y * groups.x + wg.x) * ROWS_PER_WORKGROUP, lid, lane, lanes);
}

// `input_and_param_grads` (WORKGROUP = 256): the input gradient above and
// layernorm_backward.wgsl's `param_grad_partials` in ONE dispatch — they read the same dy, x,
// mean and rstd and write disjoint outputs (dx; the two partial sets), so nothing orders
// them. Flat workgroup index w < params.rowGroups: `input_grad`'s rows, as above (the
// workgroup holds WORKGROUP invocations); the rest: one 64-column × 256-row tile of the
// parameter partials each, as param_grad_partials (64 column lanes × 4 row lanes, the same
// sums in the same order: the same bits as the two dispatches). The branch depends on the
// workgroup only, so the barrier below is in uniform control flow.

const TILE_COLS: u32 = 64u;
const ROW_LANES: u32 = 4u;
const CHUNK_ROWS: u32 = 256u;

@group(0) @binding(7) var<storage, read_write> weightPartials: array<f32>;
@group(0) @binding(8) var<storage, read_write> biasPartials: array<f32>;

var<workgroup> laneWeight: array<f32, 256>; // [row lane][column], ROW_LANES × TILE_COLS
var<workgroup> laneBias: array<f32, 256>;

// The input gradient of ROWS_PER_WORKGROUP rows from firstRow (both entry points).
fn inputGradRows(firstRow: u32, lid: u32, lane: u32, lanes: u32) {
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

@compute @workgroup_size(WORKGROUP)
fn input_and_param_grads(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
) {
  let index = wg.y * groups.x + wg.x;
  if (index < params.rowGroups) {
    inputGradRows(index * ROWS_PER_WORKGROUP, lid, lane, lanes);
    return;
  }
  let tile = index - params.rowGroups;
  let chunk = tile / params.colTiles;
  if (chunk * CHUNK_ROWS >= params.rows) {
    return; // surplus workgroup of a folded grid (uniform: depends on the workgroup only)
  }
  // WORKGROUP is 256 here (the wrapper sets it): TILE_COLS × ROW_LANES invocations.
  let colLane = lid % TILE_COLS;
  let rowLane = lid / TILE_COLS;
  let col = (tile % params.colTiles) * TILE_COLS + colLane;
  let rowStart = chunk * CHUNK_ROWS;
  let rowEnd = min(rowStart + CHUNK_ROWS, params.rows);
  var dw = 0.0;
  var db = 0.0;
  if (col < params.dim) {
    for (var row = rowStart + rowLane; row < rowEnd; row = row + ROW_LANES) {
      let i = row * params.dim + col;
      let g = dy[i];
      dw = fma(g, (x[i] - mean[row]) * rstd[row], dw);
      db = db + g;
    }
  }
  let slot = rowLane * TILE_COLS + colLane;
  laneWeight[slot] = dw;
  laneBias[slot] = db;
  workgroupBarrier();
  if (rowLane == 0u && col < params.dim) {
    var totalWeight = laneWeight[colLane];
    var totalBias = laneBias[colLane];
    for (var l = 1u; l < ROW_LANES; l = l + 1u) {
      totalWeight = totalWeight + laneWeight[l * TILE_COLS + colLane];
      totalBias = totalBias + laneBias[l * TILE_COLS + colLane];
    }
    weightPartials[chunk * params.dim + col] = totalWeight;
    biasPartials[chunk * params.dim + col] = totalBias;
  }
}
