// Batched f32 matrix multiply with fused epilogues:
//   C[b] = epilogue(op(A[b]) · op(B[b])),  op(X) = X or Xᵀ (TRANS_A / TRANS_B).
// Logical shapes: op(A) is M×K, op(B) is K×N, C is M×N; storage is row-major, so A is
// [M,K] (or [K,M] when TRANS_A) and B is [K,N] (or [N,K] when TRANS_B — a Linear weight).
//
// Tiling (matmul_tile.wgsl): each 256-invocation workgroup computes a TILE_M×TILE_N tile of C
// (128×128 or 64×64) from k-major shared-memory tiles, each invocation a PER_THREAD² register
// block read from shared memory as vec4s; double-buffered where the adapter has the workgroup
// memory for it.
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
// #include "matmul_tile.wgsl"

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

// Batch entry of this workgroup (set first thing in main; the operand loads read it).
var<private> aBase: u32;
var<private> bBase: u32;

// Element (m, k) of op(A), or 0 outside the matrix or past this workgroup's K-range.
fn tileLoadA(row: u32, k: u32, kEnd: u32) -> f32 {
  if (!ALIGNED && (row >= dims.M || k >= kEnd)) {
    return 0.0;
  }
  if (TRANS_A) {
    return A[aBase + k * dims.M + row];
  }
  return A[aBase + row * dims.K + k];
}

fn tileLoadB(k: u32, col: u32, kEnd: u32) -> f32 {
  if (!ALIGNED && (k >= kEnd || col >= dims.N)) {
    return 0.0;
  }
  if (TRANS_B) {
    return B[bBase + col * dims.K + k];
  }
  return B[bBase + k * dims.N + col];
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
  aBase = entry * dims.strideA;
  bBase = entry * dims.strideB;
  let cBase = wg.z * dims.strideC; // with SPLIT_K: this split's slice of the partials

  // A is k-contiguous unless transposed; B is k-contiguous only when transposed.
  let acc = multiplyTile(lid, row0, col0, kBegin, kEnd, !TRANS_A, TRANS_B);

  for (var i = 0u; i < PER_THREAD; i = i + 1u) {
    let row = row0 + tileRow(lid.y, i);
    if (!ALIGNED && row >= dims.M) {
      break;
    }
    for (var j = 0u; j < PER_THREAD; j = j + 1u) {
      let col = col0 + tileCol(lid.x, j);
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
