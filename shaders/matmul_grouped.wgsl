// Two independent f32 matrix products in one dispatch, sharing their left operand A:
//   C0 = epilogue0(op0(A) · op0(B0)),   C1 = epilogue1(op1(A) · op1(B1))
// — a backward's input gradient dX = dY·W and weight gradient dW = dYᵀ·X, which both read dY
// and neither reads the other's output (src/kernels/matmulGrouped.ts). One dispatch instead of
// two saves a launch and lets the two products' workgroups fill the GPU together.
//
// Each workgroup finds its problem from its flat index: problem 0 owns workgroups
// [0, first1), problem 1 [first1, workgroups); within a problem the index walks output tiles
// (column tile fastest, then row tile), then split-K ranges. The tile body is matmul.wgsl's
// (same tile configurations, PER_THREAD and TILE_K specialised per group, register blocking,
// padded k-major shared-memory tiles, register prefetch); what matmul.wgsl takes as override
// constants per pipeline — the transposes, split-K, the GELU-gradient and accumulate
// epilogues — are per-problem flags here, read from the uniform, and uniform per workgroup.
// Bounds are always checked (the flags cannot compile them out per problem).
//
// Per output element the summation is the one matmul.wgsl performs for the same problem and
// K-range: fma into an accumulator starting at +0.0, k ascending from the range's start;
// the zero padding past the range's end adds +0.0, which leaves every accumulator
// unchanged (an accumulator that starts at +0.0 and is only ever fma'd is never −0.0). So
// each problem's C (or split-K partials) has the bits of the separate dispatch's, whatever
// the group's tile configuration; its epilogue is matmul_epilogue.wgsl's order (GELU
// gradient, then accumulate). A split problem writes raw partials to its
// [splits][M][N] slice of C and leaves the reduce to the caller, as matmul.wgsl does.

// #include "gelu_math.wgsl"

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

// Tile configuration: as matmul.wgsl, specialised by src/kernels/matmulGrouped.ts.
const PER_THREAD: u32 = 8u;
const TILE_K: u32 = 8u;
const THREADS_X: u32 = 16u;
const THREADS_Y: u32 = 16u;
const THREADS: u32 = THREADS_X * THREADS_Y;
const TILE_M: u32 = THREADS_Y * PER_THREAD;
const TILE_N: u32 = THREADS_X * PER_THREAD;
const LOADS: u32 = TILE_M * TILE_K / THREADS;
const TILE_PAD: u32 = 32u / TILE_K;
const STRIDE_A: u32 = TILE_M + TILE_PAD;
const STRIDE_B: u32 = TILE_N + TILE_PAD;

var<workgroup> tileA: array<f32, TILE_K * STRIDE_A>;
var<workgroup> tileB: array<f32, TILE_K * STRIDE_B>;

fn has(p: Problem, flag: u32) -> bool {
  return (p.flags & flag) != 0u;
}

// Element (m, k) of op(A), or 0 outside the matrix or past the workgroup's K-range.
fn loadA(p: Problem, row: u32, k: u32, kEnd: u32) -> f32 {
  if (row >= p.M || k >= kEnd) {
    return 0.0;
  }
  if (has(p, TRANS_A)) {
    return A[k * p.M + row];
  }
  return A[row * p.K + k];
}

fn loadB(which: u32, p: Problem, k: u32, col: u32, kEnd: u32) -> f32 {
  if (k >= kEnd || col >= p.N) {
    return 0.0;
  }
  var index = k * p.N + col;
  if (has(p, TRANS_B)) {
    index = col * p.K + k;
  }
  if (which == 0u) {
    return B0[index];
  }
  return B1[index];
}

fn tileCoord(idx: u32, kContiguous: bool) -> vec2<u32> {
  if (kContiguous) {
    return vec2<u32>(idx / TILE_K, idx % TILE_K);
  }
  return vec2<u32>(idx % TILE_M, idx / TILE_M);
}

fn store(which: u32, p: Problem, index: u32, product: f32) {
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
  let which = select(0u, 1u, flatIndex >= params.p1.first);
  var p = params.p0;
  if (which == 1u) {
    p = params.p1;
  }
  let local = flatIndex - p.first;
  let tile = local % p.tiles;
  let row0 = (tile / p.tilesN) * TILE_M;
  let col0 = (tile % p.tilesN) * TILE_N;
  let split = local / p.tiles;
  let kBegin = split * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  let cBase = split * p.M * p.N; // a split's slice of the partials (0 when not split)
  let tid = lid.y * THREADS_X + lid.x;
  let aKContiguous = !has(p, TRANS_A);
  let bKContiguous = has(p, TRANS_B);

  var acc: array<array<f32, PER_THREAD>, PER_THREAD>;
  var a: array<f32, PER_THREAD>;
  var b: array<f32, PER_THREAD>;
  var nextA: array<f32, LOADS>;
  var nextB: array<f32, LOADS>;

  for (var i = 0u; i < LOADS; i = i + 1u) {
    let ca = tileCoord(tid + i * THREADS, aKContiguous);
    nextA[i] = loadA(p, row0 + ca.x, kBegin + ca.y, kEnd);
    let cb = tileCoord(tid + i * THREADS, bKContiguous);
    nextB[i] = loadB(which, p, kBegin + cb.y, col0 + cb.x, kEnd);
  }

  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + TILE_K) {
    for (var i = 0u; i < LOADS; i = i + 1u) {
      let ca = tileCoord(tid + i * THREADS, aKContiguous);
      tileA[ca.y * STRIDE_A + ca.x] = nextA[i];
      let cb = tileCoord(tid + i * THREADS, bKContiguous);
      tileB[cb.y * STRIDE_B + cb.x] = nextB[i];
    }
    workgroupBarrier();

    let k1 = k0 + TILE_K;
    if (k1 < kEnd) {
      for (var i = 0u; i < LOADS; i = i + 1u) {
        let ca = tileCoord(tid + i * THREADS, aKContiguous);
        nextA[i] = loadA(p, row0 + ca.x, k1 + ca.y, kEnd);
        let cb = tileCoord(tid + i * THREADS, bKContiguous);
        nextB[i] = loadB(which, p, k1 + cb.y, col0 + cb.x, kEnd);
      }
    }

    for (var kk = 0u; kk < TILE_K; kk = kk + 1u) {
      for (var i = 0u; i < PER_THREAD; i = i + 1u) {
        a[i] = tileA[kk * STRIDE_A + lid.y + i * THREADS_Y];
        b[i] = tileB[kk * STRIDE_B + lid.x + i * THREADS_X];
      }
      for (var i = 0u; i < PER_THREAD; i = i + 1u) {
        for (var j = 0u; j < PER_THREAD; j = j + 1u) {
          acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < PER_THREAD; i = i + 1u) {
    let row = row0 + lid.y + i * THREADS_Y;
    if (row >= p.M) {
      break;
    }
    for (var j = 0u; j < PER_THREAD; j = j + 1u) {
      let col = col0 + lid.x + j * THREADS_X;
      if (col >= p.N) {
        break;
      }
      store(which, p, cBase + row * p.N + col, acc[i][j]);
    }
  }
}
