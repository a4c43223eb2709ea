// Batched f32 matrix multiply with fused epilogues:
//   C[b] = epilogue(op(A[b]) · op(B[b])),  op(X) = X or Xᵀ (TRANS_A / TRANS_B).
// Logical shapes: op(A) is M×K, op(B) is K×N, C is M×N; storage is row-major, so A is
// [M,K] (or [K,M] when TRANS_A) and B is [K,N] (or [N,K] when TRANS_B — a Linear weight).
//
// Tiling: each 256-invocation workgroup computes a TILE_M×TILE_N tile of C (128×128 or
// 64×64, see below); each invocation owns a PER_THREAD² register block spread with a stride of
// 16 rows/columns, so neighbouring invocations read neighbouring shared-memory words and
// write neighbouring addresses of C (coalesced). K is walked TILE_K at a time through
// shared-memory tiles stored k-major; the next tile's global loads are issued into registers
// before the current tile is multiplied, hiding global-memory latency behind the FMAs.
//
// Shared-memory rows are padded by TILE_PAD = 32 / TILE_K words: when an operand is
// contiguous along K in global memory (A untransposed, B transposed), 32 neighbouring
// invocations load TILE_K consecutive k of 32 / TILE_K rows and store them down a column of
// the k-major tile; with rows of TILE_M words that column sat in one bank (8- or 16-way
// conflicts), with rows of TILE_M + TILE_PAD words the 32 stores hit 32 different banks.
//
// Every global access is bounds-checked, so any M, N, K ≥ 1 works, unless ALIGNED: the
// wrapper sets it when M and N are multiples of the tile and every K-range a multiple of
// TILE_K, and the checks are compiled out.
//
// SPLIT_K (src/kernels/matmulSplitK.ts): workgroup z = entry · splits + split multiplies only
// K-range [split·kChunk, min(K, (split+1)·kChunk)) and writes the raw partial product to its
// own slice of C (then a [batch][splits][M][N] scratch buffer, strideC = M·N); no epilogue:
// matmul_split_k_reduce.wgsl sums the partials in split order and applies it.
//
// The epilogue (matmul_epilogue.wgsl): bias, GELU or its gradient, residual, accumulate.
// strideA/B/C are the distances between batch entries; 0 broadcasts one matrix over the batch.

// #include "matmul_epilogue.wgsl"

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
  kChunk: u32, // SPLIT_K: the length of each K-range (a multiple of TILE_K)
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACTIVATION: u32 = 0u;
override ADD_RESIDUAL: bool = false;
override ACCUMULATE: bool = false;
override SPLIT_K: bool = false;
override ALIGNED: bool = false;

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;
@group(0) @binding(6) var<storage, read_write> aux: array<f32>;

// Tile configuration. PER_THREAD and TILE_K are specialised per adapter and shape by
// src/kernels/matmul.ts (128×128 tiles with 8×8 per invocation on GPUs for large products;
// 64×64 with 4×4 for small products and CPU adapters, where 64 accumulators per invocation
// spill); everything else follows from them.
const PER_THREAD: u32 = 8u; // PER_THREAD × PER_THREAD outputs per invocation
const TILE_K: u32 = 8u;
const THREADS_X: u32 = 16u; // invocations along N
const THREADS_Y: u32 = 16u; // invocations along M
const THREADS: u32 = THREADS_X * THREADS_Y;
const TILE_M: u32 = THREADS_Y * PER_THREAD;
const TILE_N: u32 = THREADS_X * PER_THREAD;
const LOADS: u32 = TILE_M * TILE_K / THREADS; // elements of each operand loaded per invocation
const TILE_PAD: u32 = 32u / TILE_K; // see the header: conflict-free k-contiguous stores
const STRIDE_A: u32 = TILE_M + TILE_PAD;
const STRIDE_B: u32 = TILE_N + TILE_PAD;

var<workgroup> tileA: array<f32, TILE_K * STRIDE_A>; // [k][m], rows padded
var<workgroup> tileB: array<f32, TILE_K * STRIDE_B>; // [k][n], rows padded

// Element (m, k) of op(A), or 0 outside the matrix or past this workgroup's K-range.
fn loadA(base: u32, row: u32, k: u32, kEnd: u32) -> f32 {
  if (!ALIGNED && (row >= dims.M || k >= kEnd)) {
    return 0.0;
  }
  if (TRANS_A) {
    return A[base + k * dims.M + row];
  }
  return A[base + row * dims.K + k];
}

fn loadB(base: u32, k: u32, col: u32, kEnd: u32) -> f32 {
  if (!ALIGNED && (k >= kEnd || col >= dims.N)) {
    return 0.0;
  }
  if (TRANS_B) {
    return B[base + col * dims.K + k];
  }
  return B[base + k * dims.N + col];
}

// Which (m-or-n, k) element of a 128×8 tile invocation `tid` loads in round i. The walk is
// along whichever index is contiguous in memory, so a group of invocations reads one
// contiguous run of global memory.
fn tileCoord(idx: u32, kContiguous: bool) -> vec2<u32> {
  if (kContiguous) {
    return vec2<u32>(idx / TILE_K, idx % TILE_K); // (mn, k)
  }
  return vec2<u32>(idx % TILE_M, idx / TILE_M);
}

@compute @workgroup_size(THREADS_X, THREADS_Y, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = wg.y * TILE_M;
  let col0 = wg.x * TILE_N;
  // Batch entry and K-range: everything, or one split's range (uniform per workgroup).
  let splits = select(1u, (dims.K + dims.kChunk - 1u) / dims.kChunk, SPLIT_K);
  let entry = wg.z / splits;
  let kBegin = (wg.z % splits) * select(0u, dims.kChunk, SPLIT_K);
  let kEnd = select(dims.K, min(dims.K, kBegin + dims.kChunk), SPLIT_K);
  let aBase = entry * dims.strideA;
  let bBase = entry * dims.strideB;
  let cBase = wg.z * dims.strideC; // with SPLIT_K: this split's slice of the partials
  let tid = lid.y * THREADS_X + lid.x;

  var acc: array<array<f32, PER_THREAD>, PER_THREAD>;
  var a: array<f32, PER_THREAD>;
  var b: array<f32, PER_THREAD>;
  var nextA: array<f32, LOADS>;
  var nextB: array<f32, LOADS>;

  // A is k-contiguous unless transposed; B is k-contiguous only when transposed.
  for (var i = 0u; i < LOADS; i = i + 1u) {
    let ca = tileCoord(tid + i * THREADS, !TRANS_A);
    nextA[i] = loadA(aBase, row0 + ca.x, kBegin + ca.y, kEnd);
    let cb = tileCoord(tid + i * THREADS, TRANS_B);
    nextB[i] = loadB(bBase, kBegin + cb.y, col0 + cb.x, kEnd);
  }

  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + TILE_K) {
    for (var i = 0u; i < LOADS; i = i + 1u) {
      let ca = tileCoord(tid + i * THREADS, !TRANS_A);
      tileA[ca.y * STRIDE_A + ca.x] = nextA[i];
      let cb = tileCoord(tid + i * THREADS, TRANS_B);
      tileB[cb.y * STRIDE_B + cb.x] = nextB[i];
    }
    workgroupBarrier();

    // Prefetch the next K-tile into registers while this one is multiplied.
    let k1 = k0 + TILE_K;
    if (k1 < kEnd) {
      for (var i = 0u; i < LOADS; i = i + 1u) {
        let ca = tileCoord(tid + i * THREADS, !TRANS_A);
        nextA[i] = loadA(aBase, row0 + ca.x, k1 + ca.y, kEnd);
        let cb = tileCoord(tid + i * THREADS, TRANS_B);
        nextB[i] = loadB(bBase, k1 + cb.y, col0 + cb.x, kEnd);
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
    if (!ALIGNED && row >= dims.M) {
      break;
    }
    for (var j = 0u; j < PER_THREAD; j = j + 1u) {
      let col = col0 + lid.x + j * THREADS_X;
      if (!ALIGNED && col >= dims.N) {
        break;
      }
      let index = cBase + row * dims.N + col;
      if (SPLIT_K) {
        C[index] = acc[i][j];
      } else {
        C[index] = matmulEpilogue(acc[i][j], index, col);
      }
    }
  }
}
