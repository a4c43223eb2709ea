// Batched f32 matrix multiply with fused epilogues:
//   C[b] = epilogue(op(A[b]) · op(B[b])),  op(X) = X or Xᵀ (TRANS_A / TRANS_B).
// Logical shapes: op(A) is M×K, op(B) is K×N, C is M×N; storage is row-major, so A is
// [M,K] (or [K,M] when TRANS_A) and B is [K,N] (or [N,K] when TRANS_B — a Linear weight).
//
// Tiling: each 256-invocation workgroup computes a TILE_M×TILE_N tile of C (128×128 or
// 64×64, see below); each invocation owns a PER_THREAD² register block spread with a stride of
// 16 rows/columns, so neighbouring
// invocations read neighbouring shared-memory words (no bank conflicts) and write
// neighbouring addresses of C (coalesced). K is walked TILE_K at a time through shared-memory
// tiles stored k-major; the next tile's global loads are issued into registers before the
// current tile is multiplied, hiding global-memory latency behind the FMAs. Every global
// access is bounds-checked, so any M, N, K ≥ 1 works.
//
// Epilogue, in this order (each an override constant, so unused steps cost nothing):
//   HAS_BIAS      v += bias[col]
//   ACTIVATION 1  aux = v; v = gelu(v)          (forward fc1: aux keeps the pre-activation)
//   ACTIVATION 2  v *= gelu'(aux)                (backward through GELU)
//   ADD_RESIDUAL  v += residual[i]               (x + f(x) into a new buffer)
//   ACCUMULATE    v += C[i]                      (gradient accumulation)
// strideA/B/C are the distances between batch entries; 0 broadcasts one matrix over the batch.

// #include "gelu_math.wgsl"

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
  _pad: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACTIVATION: u32 = 0u;
override ADD_RESIDUAL: bool = false;
override ACCUMULATE: bool = false;

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

var<workgroup> tileA: array<f32, TILE_K * TILE_M>; // [k][m]
var<workgroup> tileB: array<f32, TILE_K * TILE_N>; // [k][n]

// Element (m, k) of op(A) in the tile starting at (row0, k0), or 0 outside the matrix.
fn loadA(base: u32, row: u32, k: u32) -> f32 {
  if (row >= dims.M || k >= dims.K) {
    return 0.0;
  }
  if (TRANS_A) {
    return A[base + k * dims.M + row];
  }
  return A[base + row * dims.K + k];
}

fn loadB(base: u32, k: u32, col: u32) -> f32 {
  if (k >= dims.K || col >= dims.N) {
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
  let aBase = wg.z * dims.strideA;
  let bBase = wg.z * dims.strideB;
  let cBase = wg.z * dims.strideC;
  let tid = lid.y * THREADS_X + lid.x;

  var acc: array<array<f32, PER_THREAD>, PER_THREAD>;
  var a: array<f32, PER_THREAD>;
  var b: array<f32, PER_THREAD>;
  var nextA: array<f32, LOADS>;
  var nextB: array<f32, LOADS>;

  // A is k-contiguous unless transposed; B is k-contiguous only when transposed.
  for (var i = 0u; i < LOADS; i = i + 1u) {
    let ca = tileCoord(tid + i * THREADS, !TRANS_A);
    nextA[i] = loadA(aBase, row0 + ca.x, ca.y);
    let cb = tileCoord(tid + i * THREADS, TRANS_B);
    nextB[i] = loadB(bBase, cb.y, col0 + cb.x);
  }

  for (var k0 = 0u; k0 < dims.K; k0 = k0 + TILE_K) {
    for (var i = 0u; i < LOADS; i = i + 1u) {
      let ca = tileCoord(tid + i * THREADS, !TRANS_A);
      tileA[ca.y * TILE_M + ca.x] = nextA[i];
      let cb = tileCoord(tid + i * THREADS, TRANS_B);
      tileB[cb.y * TILE_N + cb.x] = nextB[i];
    }
    workgroupBarrier();

    // Prefetch the next K-tile into registers while this one is multiplied.
    let k1 = k0 + TILE_K;
    if (k1 < dims.K) {
      for (var i = 0u; i < LOADS; i = i + 1u) {
        let ca = tileCoord(tid + i * THREADS, !TRANS_A);
        nextA[i] = loadA(aBase, row0 + ca.x, k1 + ca.y);
        let cb = tileCoord(tid + i * THREADS, TRANS_B);
        nextB[i] = loadB(bBase, k1 + cb.y, col0 + cb.x);
      }
    }

    for (var kk = 0u; kk < TILE_K; kk = kk + 1u) {
      for (var i = 0u; i < PER_THREAD; i = i + 1u) {
        a[i] = tileA[kk * TILE_M + lid.y + i * THREADS_Y];
        b[i] = tileB[kk * TILE_N + lid.x + i * THREADS_X];
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
    if (row >= dims.M) {
      break;
    }
    for (var j = 0u; j < PER_THREAD; j = j + 1u) {
      let col = col0 + lid.x + j * THREADS_X;
      if (col >= dims.N) {
        break;
      }
      let index = cBase + row * dims.N + col;
      var v = acc[i][j];
      if (HAS_BIAS) {
        v = v + bias[col];
      }
      if (ACTIVATION == 1u) {
        aux[index] = v;
        v = gelu(v);
      } else if (ACTIVATION == 2u) {
        v = v * gelu_grad(aux[index]);
      }
      if (ADD_RESIDUAL) {
        v = v + residual[index];
      }
      if (ACCUMULATE) {
        v = v + C[index];
      }
      C[index] = v;
    }
  }
}
