// The register-blocked tile product shared by matmul.wgsl and matmul_grouped.wgsl: one
// 16×16-invocation workgroup multiplies a TILE_M×K block of op(A) by a K×TILE_N block of op(B)
// over one K-range, walking K TILE_K at a time through shared memory, and returns each
// invocation's PER_THREAD×PER_THREAD accumulators. The including shader defines how an
// element of either operand is read (bounds, transposes, which buffer):
//   fn tileLoadA(row: u32, k: u32, kEnd: u32) -> f32   element (row, k) of op(A), or 0
//   fn tileLoadB(k: u32, col: u32, kEnd: u32) -> f32   element (k, col) of op(B), or 0
// and finds the output element of accumulator (i, j) with tileRow / tileCol.
//
// Register block: invocation (x, y) owns rows 4·(y + g·16) + q and columns 4·(x + h·16) + r
// (g, h < PER_THREAD / 4; q, r < 4): runs of 4, so that each K step reads its PER_THREAD values
// of A and of B from shared memory as PER_THREAD / 4 vec4 loads each (4 loads per 64 FMAs on
// the 8×8 block instead of 16). 16 invocations of a row of the workgroup read 16 consecutive
// vec4s of B (conflict-free), and the rows of A they share are a broadcast.
//
// Shared memory: k-major tiles ([k][m] and [k][n]) whose rows are padded by TILE_PAD = 4
// words (a multiple of 4, for the vec4 reads). When an operand is contiguous along K in global
// memory (A untransposed, B transposed), 32 neighbouring invocations load TILE_K consecutive k
// of 32 / TILE_K rows and store them down a column: with unpadded rows that column sat in one
// bank; padded by 4 the stores of TILE_K = 8 hit 32 different banks (TILE_K = 16: 2-way).
//
// STAGES = 2 (double-buffered shared memory, chosen on GPUs whose workgroup memory holds two
// stages, src/kernels/matmulPlan.ts): the next K-tile's global loads go to registers
// before this tile is multiplied and are stored into the other stage after it, so one barrier
// per K-tile suffices. STAGES = 1: the same loads, stored after a second barrier.
//
// Per output element the summation is fma into an accumulator starting at +0.0, k ascending
// from the range's start, whatever the stage count or which invocation owns the element: the
// bits depend only on the operands and the K-range (matmul_grouped's bit-identity rests on it).

const PER_THREAD: u32 = 8u; // PER_THREAD × PER_THREAD outputs per invocation (4 or 8)
const TILE_K: u32 = 8u;
const STAGES: u32 = 1u;
const THREADS_X: u32 = 16u; // invocations along N
const THREADS_Y: u32 = 16u; // invocations along M
const THREADS: u32 = THREADS_X * THREADS_Y;
const TILE_M: u32 = THREADS_Y * PER_THREAD;
const TILE_N: u32 = THREADS_X * PER_THREAD;
const LOADS: u32 = TILE_M * TILE_K / THREADS; // elements of each operand loaded per invocation
const RUNS: u32 = PER_THREAD / 4u; // vec4 runs of the register block along each axis
const TILE_PAD: u32 = 4u;
const STRIDE_A: u32 = TILE_M + TILE_PAD; // words per k-row of the A tile
const STRIDE_B: u32 = TILE_N + TILE_PAD;
const STAGE_A: u32 = TILE_K * STRIDE_A / 4u; // vec4s per stage
const STAGE_B: u32 = TILE_K * STRIDE_B / 4u;

var<workgroup> tileA: array<vec4<f32>, STAGES * STAGE_A>; // [stage][k][m], rows padded
var<workgroup> tileB: array<vec4<f32>, STAGES * STAGE_B>; // [stage][k][n], rows padded

// Which (m-or-n, k) element of a tile invocation `tid` loads in round i. The walk is along
// whichever index is contiguous in memory, so a group of invocations reads one contiguous run.
fn tileCoord(idx: u32, kContiguous: bool) -> vec2<u32> {
  if (kContiguous) {
    return vec2<u32>(idx / TILE_K, idx % TILE_K); // (mn, k)
  }
  return vec2<u32>(idx % TILE_M, idx / TILE_M);
}

// The tile row / column of accumulator i (or j) of invocation (lidY, lidX): increasing in i.
fn tileRow(lidY: u32, i: u32) -> u32 {
  return 4u * (lidY + (i / 4u) * THREADS_Y) + i % 4u;
}

fn tileCol(lidX: u32, j: u32) -> u32 {
  return 4u * (lidX + (j / 4u) * THREADS_X) + j % 4u;
}

fn storeStage(stage: u32, tid: u32, aKContiguous: bool, bKContiguous: bool, nextA: array<f32, LOADS>, nextB: array<f32, LOADS>) {
  for (var i = 0u; i < LOADS; i = i + 1u) {
    let ca = tileCoord(tid + i * THREADS, aKContiguous);
    let wa = ca.y * STRIDE_A + ca.x;
    tileA[stage * STAGE_A + wa / 4u][wa % 4u] = nextA[i];
    let cb = tileCoord(tid + i * THREADS, bKContiguous);
    let wb = cb.y * STRIDE_B + cb.x;
    tileB[stage * STAGE_B + wb / 4u][wb % 4u] = nextB[i];
  }
}

// The product of rows [row0, row0 + TILE_M) of op(A) and columns [col0, col0 + TILE_N) of
// op(B) over K-range [kBegin, kEnd). Called in uniform control flow (it has barriers).
fn multiplyTile(
  lid: vec3<u32>,
  row0: u32,
  col0: u32,
  kBegin: u32,
  kEnd: u32,
  aKContiguous: bool,
  bKContiguous: bool,
) -> array<array<f32, PER_THREAD>, PER_THREAD> {
  let tid = lid.y * THREADS_X + lid.x;
  var acc: array<array<f32, PER_THREAD>, PER_THREAD>;
  var a: array<f32, PER_THREAD>;
  var b: array<f32, PER_THREAD>;
  var nextA: array<f32, LOADS>;
  var nextB: array<f32, LOADS>;

  for (var i = 0u; i < LOADS; i = i + 1u) {
    let ca = tileCoord(tid + i * THREADS, aKContiguous);
    nextA[i] = tileLoadA(row0 + ca.x, kBegin + ca.y, kEnd);
    let cb = tileCoord(tid + i * THREADS, bKContiguous);
    nextB[i] = tileLoadB(kBegin + cb.y, col0 + cb.x, kEnd);
  }
  if (STAGES == 2u) {
    storeStage(0u, tid, aKContiguous, bKContiguous, nextA, nextB);
    workgroupBarrier();
  }

  var stage = 0u;
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + TILE_K) {
    if (STAGES == 1u) {
      storeStage(0u, tid, aKContiguous, bKContiguous, nextA, nextB);
      workgroupBarrier();
    }

    // The next K-tile's global loads, in flight while this one is multiplied.
    let k1 = k0 + TILE_K;
    if (k1 < kEnd) {
      for (var i = 0u; i < LOADS; i = i + 1u) {
        let ca = tileCoord(tid + i * THREADS, aKContiguous);
        nextA[i] = tileLoadA(row0 + ca.x, k1 + ca.y, kEnd);
        let cb = tileCoord(tid + i * THREADS, bKContiguous);
        nextB[i] = tileLoadB(k1 + cb.y, col0 + cb.x, kEnd);
      }
    }

    let baseA = stage * STAGE_A;
    let baseB = stage * STAGE_B;
    for (var kk = 0u; kk < TILE_K; kk = kk + 1u) {
      for (var g = 0u; g < RUNS; g = g + 1u) {
        let va = tileA[baseA + kk * (STRIDE_A / 4u) + lid.y + g * THREADS_Y];
        let vb = tileB[baseB + kk * (STRIDE_B / 4u) + lid.x + g * THREADS_X];
        for (var q = 0u; q < 4u; q = q + 1u) {
          a[4u * g + q] = va[q];
          b[4u * g + q] = vb[q];
        }
      }
      for (var i = 0u; i < PER_THREAD; i = i + 1u) {
        for (var j = 0u; j < PER_THREAD; j = j + 1u) {
          acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
      }
    }

    if (STAGES == 2u) {
      // The other stage: every invocation finished reading it before the last barrier.
      if (k1 < kEnd) {
        storeStage(1u - stage, tid, aKContiguous, bKContiguous, nextA, nextB);
      }
      stage = 1u - stage;
    }
    workgroupBarrier();
  }
  return acc;
}
