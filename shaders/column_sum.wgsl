// Column sums of a row-major [rows, cols] f32 matrix: out[c] = Σ_r x[r, c] — the gradient
// of a bias broadcast over rows (and, applied to per-chunk partials, the last step of the
// LayerNorm weight/bias gradients).
//
// One pass: workgroup (wg.x, wg.y) sums a 64-column tile over one chunk of CHUNK_ROWS = 256
// rows and writes out[wg.y, column]; the wrapper runs passes until one row remains (rows ≤
// 256 → one pass, ≤ 65536 → two, ≤ 16.7M → three), so no float atomics are needed (WGSL has
// none) and every invocation does a bounded amount of work however tall the matrix is.
//
// Inside a workgroup, 64 column lanes × 4 row lanes: the 64 invocations of a row lane read
// 64 consecutive floats of one row (coalesced), each walking 64 rows with a stride of 4;
// the 4 row lanes are then added through shared memory. Summation depth per pass is at
// most 64 + 3 additions, so the rounding error stays near u·depth·Σ|x| (u = 2⁻²⁴).
//
// ACCUMULATE (last pass only): out[c] += sum instead of out[c] = sum.

struct Params {
  rows: u32,
  cols: u32,
  _pad0: u32,
  _pad1: u32,
}

override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const TILE_COLS: u32 = 64u;
const ROW_LANES: u32 = 4u;
const CHUNK_ROWS: u32 = 256u;

var<workgroup> laneSums: array<f32, 256>; // [row lane][column], ROW_LANES × TILE_COLS

@compute @workgroup_size(TILE_COLS, ROW_LANES, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = wg.x * TILE_COLS + lid.x;
  let rowStart = wg.y * CHUNK_ROWS;
  let rowEnd = min(rowStart + CHUNK_ROWS, params.rows);
  var sum = 0.0;
  if (col < params.cols) {
    for (var r = rowStart + lid.y; r < rowEnd; r = r + ROW_LANES) {
      sum = sum + x[r * params.cols + col];
    }
  }
  laneSums[lid.y * TILE_COLS + lid.x] = sum;
  workgroupBarrier();
  if (lid.y == 0u && col < params.cols) {
    var total = laneSums[lid.x];
    for (var lane = 1u; lane < ROW_LANES; lane = lane + 1u) {
      total = total + laneSums[lane * TILE_COLS + lid.x];
    }
    let index = wg.y * params.cols + col;
    if (ACCUMULATE) {
      total = total + out[index];
    }
    out[index] = total;
  }
}
