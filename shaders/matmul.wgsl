// Batched f32 matrix multiply, C[b] = A[b] · B[b], every matrix row-major and contiguous.
//
// Each 256-invocation workgroup computes a 64×64 tile of C; each invocation owns a 4×4
// register block spread with a stride of 16 rows/columns so that neighbouring invocations
// touch neighbouring addresses (coalesced global writes, no shared-memory bank conflicts).
// K is walked in steps of 16 through two shared-memory tiles. Every global access is
// bounds-checked, so any M, N, K ≥ 1 works (out-of-range tile elements load as 0).
//
// strideA/strideB/strideC are the element distances between consecutive batch entries;
// a stride of 0 broadcasts one matrix over the batch (e.g. a weight shared by all samples).

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

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREADS_X: u32 = 16u; // invocations along N
const THREADS_Y: u32 = 16u; // invocations along M
const THREADS: u32 = THREADS_X * THREADS_Y;

// tileA is stored k-major ([k][m]) so the inner loop reads a row of it per k.
var<workgroup> tileA: array<f32, TILE_K * TILE_M>;
var<workgroup> tileB: array<f32, TILE_K * TILE_N>;

@compute @workgroup_size(THREADS_X, THREADS_Y, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let M = dims.M;
  let N = dims.N;
  let K = dims.K;
  let row0 = wg.y * TILE_M;
  let col0 = wg.x * TILE_N;
  let aBase = wg.z * dims.strideA;
  let bBase = wg.z * dims.strideB;
  let cBase = wg.z * dims.strideC;
  let tid = lid.y * THREADS_X + lid.x;

  var acc: array<array<f32, 4>, 4>;
  var a: array<f32, 4>;
  var b: array<f32, 4>;

  for (var k0 = 0u; k0 < K; k0 = k0 + TILE_K) {
    // 64×16 elements of A and 16×64 of B: four of each per invocation.
    for (var i = 0u; i < 4u; i = i + 1u) {
      let idx = tid + i * THREADS;
      let ar = idx / TILE_K;
      let ak = idx % TILE_K;
      var av = 0.0;
      if (row0 + ar < M && k0 + ak < K) {
        av = A[aBase + (row0 + ar) * K + k0 + ak];
      }
      tileA[ak * TILE_M + ar] = av;

      let bk = idx / TILE_N;
      let bc = idx % TILE_N;
      var bv = 0.0;
      if (k0 + bk < K && col0 + bc < N) {
        bv = B[bBase + (k0 + bk) * N + col0 + bc];
      }
      tileB[bk * TILE_N + bc] = bv;
    }
    workgroupBarrier();

    for (var kk = 0u; kk < TILE_K; kk = kk + 1u) {
      for (var i = 0u; i < 4u; i = i + 1u) {
        a[i] = tileA[kk * TILE_M + lid.y + i * THREADS_Y];
        b[i] = tileB[kk * TILE_N + lid.x + i * THREADS_X];
      }
      for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
          acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i = i + 1u) {
    let row = row0 + lid.y + i * THREADS_Y;
    if (row < M) {
      for (var j = 0u; j < 4u; j = j + 1u) {
        let col = col0 + lid.x + j * THREADS_X;
        if (col < N) {
          C[cBase + row * N + col] = acc[i][j];
        }
      }
    }
  }
}
