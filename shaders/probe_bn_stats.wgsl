// The attentive and linear probes' BatchNorm1d (affine=False) batch statistics, as
// torch.nn.BatchNorm1d in training mode over a [B, C, N] input (ml-aim transposes the
// [B, N, D] features): every channel c is normalised with the statistics of all R = B·N
// tokens of the batch,
//   mean[c]   = Σ_r x[r, c] / R
//   var[c]    = Σ_r (x[r, c] − mean[c])² / R          (biased: what normalises)
//   invStd[c] = 1 / sqrt(var[c] + eps)
// and, with UPDATE_RUNNING, the running statistics move by `momentum` (0.1 in torch) towards
// the batch's, the variance unbiased (R / (R − 1)) as torch does:
//   running_mean = (1 − m)·running_mean + m·mean;  running_var = (1 − m)·running_var + m·var·R/(R−1)
// Output `stats` is [2, D]: mean, then invStd. `running` is [2, D]: running_mean, running_var.
//
// GATHER: the batch is B samples picked from a feature bank [S, N, D] by `index` (u32 [B]):
// token row r = b·N + t reads bank row index[b]·N + t (no copy of the batch is made).
// Without GATHER, row r of `x` is read directly.
//
// Layout: workgroup wg.x owns 64 consecutive channels; its 4 row lanes stride over all R rows
// (64 lanes read 64 consecutive floats of a row: coalesced), then add through shared memory.
// The mean and the variance are two passes (no E[x²] − E[x]² cancellation). R is at most a
// probe batch of tokens (≈ 10⁴–10⁵), so one workgroup per channel tile suffices.

struct Params {
  rows: u32,
  tokens: u32,
  dim: u32,
  eps: f32,
  momentum: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

override GATHER: bool = false;
override UPDATE_RUNNING: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> running: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const TILE_COLS: u32 = 64u;
const ROW_LANES: u32 = 4u;

var<workgroup> laneSums: array<f32, 256>; // [row lane][column]

fn sourceRow(r: u32) -> u32 {
  if (GATHER) {
    let b = r / params.tokens;
    return index[b] * params.tokens + (r - b * params.tokens);
  }
  return r;
}

// Σ over the 4 row lanes of `value`, for every column lane (all invocations get it).
fn laneTotal(lid: vec3<u32>, value: f32) -> f32 {
  laneSums[lid.y * TILE_COLS + lid.x] = value;
  workgroupBarrier();
  var total = 0.0;
  for (var lane = 0u; lane < ROW_LANES; lane = lane + 1u) {
    total = total + laneSums[lane * TILE_COLS + lid.x];
  }
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(TILE_COLS, ROW_LANES, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = wg.x * TILE_COLS + lid.x;
  let inside = col < params.dim;
  let rows = params.rows;
  let n = f32(rows);
  var sum = 0.0;
  if (inside) {
    for (var r = lid.y; r < rows; r = r + ROW_LANES) {
      sum = sum + x[sourceRow(r) * params.dim + col];
    }
  }
  let mu = laneTotal(lid, sum) / n;
  var squares = 0.0;
  if (inside) {
    for (var r = lid.y; r < rows; r = r + ROW_LANES) {
      let d = x[sourceRow(r) * params.dim + col] - mu;
      squares = fma(d, d, squares);
    }
  }
  let sq = laneTotal(lid, squares);
  if (lid.y != 0u || !inside) {
    return;
  }
  let variance = sq / n;
  stats[col] = mu;
  stats[params.dim + col] = inverseSqrt(variance + params.eps);
  if (UPDATE_RUNNING) {
    let m = params.momentum;
    let unbiased = sq / (n - 1.0);
    running[col] = (1.0 - m) * running[col] + m * mu;
    running[params.dim + col] = (1.0 - m) * running[params.dim + col] + m * unbiased;
  }
}
