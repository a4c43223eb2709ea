// Two independent f32 matrix products in one dispatch, sharing their left operand A:
//   C0 = epilogue0(op0(A) · op0(B0)),   C1 = epilogue1(op1(A) · op1(B1))
// — a backward's input gradient dX = dY·W and weight gradient dW = dYᵀ·X, which both read dY
// and neither reads the other's output (src/kernels/matmulGrouped.ts). One dispatch instead of
// two saves a launch and lets the two products' workgroups fill the GPU together.
//
// Each workgroup finds its problem from its flat index: problem 0 owns workgroups
// [0, first1), problem 1 [first1, workgroups); within a problem the index walks output tiles
// (column tile fastest, then row tile), then split-K ranges. The tile product is matmul.wgsl's
// (matmul_tile.wgsl: the same tile configurations and stages, specialised per group); what
// matmul.wgsl takes as override
// constants per pipeline — the transposes, split-K, the GELU-gradient and accumulate
// epilogues — are per-problem flags here, read from the uniform, and uniform per workgroup.
// Bounds are always checked (the flags cannot compile them out per problem).
//
// Per output element the summation is the one matmul.wgsl performs for the same problem and
// K-range (matmul_tile.wgsl); the zero padding past the range's end adds +0.0, which leaves
// every accumulator unchanged (an accumulator that starts at +0.0 and is only ever fma'd is
// never −0.0). So each problem's C (or split-K partials) has the bits of the separate
// dispatch's, whatever the group's tile configuration; its epilogue is matmul_epilogue.wgsl's order (GELU
// gradient, then accumulate). A split problem writes raw partials to its
// [splits][M][N] slice of C and leaves the reduce to the caller, as matmul.wgsl does.

// #include "gelu_math.wgsl"
// #include "matmul_tile.wgsl"

// Flags of a problem.
const TRANS_A: u32 = 1u;
const TRANS_B: u32 = 2u;
const GELU_GRAD: u32 = 4u; // C = v · gelu'(aux)
const ACCUMULATE: u32 = 8u; // C += v
const SPLIT_K: u32 = 16u; // C is the partials: raw products, no epilogue

struct Problem {
  M: u32,
  N: u32,
  K: u32,
  kChunk: u32, // each workgroup multiplies one K-range of this length (K when not split)
  tilesN: u32, // output tiles along N
  tiles: u32, // output tiles of one K-range (tilesM · tilesN)
  first: u32, // this problem's first workgroup
  flags: u32,
}

struct Params {
  p0: Problem,
  p1: Problem,
  workgroups: u32, // of both problems
  gridX: u32, // workgroups along x of the (folded) grid
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B0: array<f32>;
@group(0) @binding(2) var<storage, read_write> C0: array<f32>;
@group(0) @binding(3) var<storage, read> B1: array<f32>;
@group(0) @binding(4) var<storage, read_write> C1: array<f32>;
@group(0) @binding(5) var<storage, read> aux: array<f32>; // the GELU-gradient problem's
@group(0) @binding(6) var<uniform> params: Params;

// This workgroup's problem and which of the two it is (set first thing in main; the operand
// loads read them).
var<private> problem: Problem;
var<private> which: u32;

fn has(p: Problem, flag: u32) -> bool {
  return (p.flags & flag) != 0u;
}

// Element (m, k) of op(A), or 0 outside the matrix or past the workgroup's K-range.
fn tileLoadA(row: u32, k: u32, kEnd: u32) -> f32 {
  if (row >= problem.M || k >= kEnd) {
    return 0.0;
  }
  if (has(problem, TRANS_A)) {
    return A[k * problem.M + row];
  }
  return A[row * problem.K + k];
}

fn tileLoadB(k: u32, col: u32, kEnd: u32) -> f32 {
  if (k >= kEnd || col >= problem.N) {
    return 0.0;
  }
  var index = k * problem.N + col;
  if (has(problem, TRANS_B)) {
    index = col * problem.K + k;
  }
  if (which == 0u) {
    return B0[index];
  }
  return B1[index];
}

fn store(p: Problem, index: u32, product: f32) {
  var v = product;
  if (!has(p, SPLIT_K)) {
    if (has(p, GELU_GRAD)) {
      v = v * gelu_grad(aux[index]);
    }
    if (has(p, ACCUMULATE) && which == 0u) {
      v = v + C0[index];
    } else if (has(p, ACCUMULATE)) {
      v = v + C1[index];
    }
  }
  if (which == 0u) {
    C0[index] = v;
  } else {
    C1[index] = v;
  }
}

@compute @workgroup_size(THREADS_X, THREADS_Y, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let flatIndex = wg.y * params.gridX + wg.x;
  if (flatIndex >= params.workgroups) {
    return; // the folded grid's surplus
  }
  let second = flatIndex >= params.p1.first;
  var p = params.p0;
  if (second) {
    p = params.p1;
  }
  problem = p;
  which = select(0u, 1u, second);
  let local = flatIndex - p.first;
  let tile = local % p.tiles;
  let row0 = (tile / p.tilesN) * TILE_M;
  let col0 = (tile % p.tilesN) * TILE_N;
  let split = local / p.tiles;
  let kBegin = split * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  let cBase = split * p.M * p.N; // a split's slice of the partials (0 when not split)

  let acc = multiplyTile(lid, row0, col0, kBegin, kEnd, !has(p, TRANS_A), has(p, TRANS_B));

  for (var i = 0u; i < PER_THREAD; i = i + 1u) {
    let row = row0 + tileRow(lid.y, i);
    if (row >= p.M) {
      break;
    }
    for (var j = 0u; j < PER_THREAD; j = j + 1u) {
      let col = col0 + tileCol(lid.x, j);
      if (col >= p.N) {
        break;
      }
      store(p, cBase + row * p.N + col, acc[i][j]);
    }
  }
}
