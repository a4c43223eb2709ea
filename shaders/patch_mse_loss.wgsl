// AIM's pre-training loss (ml-l3m RasterPixelLoss with norm_pix_loss) and its gradient.
// pred, targets: [B, K, P] row-major (P = p·p·3 values of a patch, (row, col, channel) order);
// prefixLengths: u32 [B]. Position i of sample b predicts target patch i + 1, normalised by
// its own mean and unbiased variance:  t̂ = (t − mean) / sqrt(Σ(t − mean)²/(P − 1) + 1e-6)
// when NORMALIZE_TARGETS (the recipe); otherwise t̂ = t (norm_pix_loss off, the paper's
// Table 3a "raw pixels"), which is mean 0 and rstd 1 below, with the two reductions skipped.
// A pair counts iff S_b ≤ i + 1 ≤ K − 1 (the target is not in the bidirectional prefix; the
// last position predicts nothing). N = Σ_b (K − clamp(S_b, 1, K)) counted pairs.
//
// Entry points (one file so both share the bindings below):
//   countTargets  one workgroup: countedTargets[0] = N (as f32; exact below 2²⁴).
//   main          one workgroup per position (b, i):
//     WRITE_LOSS  perPosition[b, i] = Σ_j (pred − t̂)² / P for counted pairs, else 0
//                 (the loss is Σ perPosition / N, summed by reduce_sum.wgsl);
//     WRITE_GRAD  gradPred[b, i, :] = 2·(pred − t̂) / (P·N) for counted pairs, else 0.
//
// Why a workgroup per position: each position needs three reductions over the P values of
// one patch (mean; then the centred sum of squares — two passes, which avoids the
// cancellation of E[t²] − E[t]²; then the squared error). 64 invocations stride over the
// patch (coalesced reads) and combine their partial sums as a binary tree in shared memory.
// P is 588 for AIM (14·14·3), so each invocation adds about 10 values. Positions beyond
// 65535 use a 2-D grid folded back as wg.y·groups.x + wg.x; surplus workgroups return.
// S_b is read through workgroupUniformLoad so that the counted / not-counted branch is
// uniform and the barriers inside the reductions stay legal.
//
// GATHERED (the head ran only on the rows that count, src/model/headRows.ts): prediction
// row m of pred / gradPred [M, P] is full row rows[m] = b·K + i, or NONE (a padding row:
// its gradient is written 0 and nothing else). The grid covers max(B·K, M) workgroups:
// workgroup w < M handles prediction row w; workgroup w < B·K also writes perPosition[w] = 0
// when full row w does not count (a counted row's loss is written by the workgroup of its
// prediction row, so no value is written twice).

struct Dims {
  batch: u32,
  positions: u32, // K
  patchValues: u32, // P
  rows: u32, // B·K
  gathered: u32, // M: prediction rows (GATHERED only)
}

override WRITE_LOSS: bool = true;
override WRITE_GRAD: bool = false;
override GATHERED: bool = false;
override NORMALIZE_TARGETS: bool = true;

@group(0) @binding(0) var<storage, read> prefixLengths: array<u32>;
@group(0) @binding(1) var<storage, read_write> countedTargets: array<f32>;
@group(0) @binding(2) var<uniform> dims: Dims;
@group(0) @binding(3) var<storage, read> pred: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<f32>;
@group(0) @binding(5) var<storage, read_write> perPosition: array<f32>;
@group(0) @binding(6) var<storage, read_write> gradPred: array<f32>;
@group(0) @binding(7) var<storage, read> gatheredRows: array<u32>;

const THREADS: u32 = 64u;
const NORM_EPS: f32 = 1e-6;
const NONE: u32 = 0xffffffffu;

var<workgroup> scratch: array<f32, 64>;
var<workgroup> countScratch: array<u32, 64>;
var<workgroup> prefixShared: u32;
var<workgroup> rowShared: u32;

fn isCounted(i: u32, prefix: u32) -> bool {
  return i + 1u >= prefix && i + 1u < dims.positions;
}

// Σ of `value` over the workgroup as a binary tree; every invocation gets the total.
fn workgroupSum(value: f32, lid: u32) -> f32 {
  scratch[lid] = value;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      scratch[lid] = scratch[lid] + scratch[lid + stride];
    }
    workgroupBarrier();
  }
  let total = scratch[0];
  workgroupBarrier(); // everyone has read scratch[0] before the next call overwrites it
  return total;
}

@compute @workgroup_size(64, 1, 1)
fn countTargets(@builtin(local_invocation_index) lid: u32) {
  var n = 0u;
  for (var b = lid; b < dims.batch; b = b + THREADS) {
    n = n + dims.positions - clamp(prefixLengths[b], 1u, dims.positions);
  }
  countScratch[lid] = n;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      countScratch[lid] = countScratch[lid] + countScratch[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    countedTargets[0] = f32(countScratch[0]);
  }
}

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wg.y * groups.x + wg.x;
  var row = w; // the full row b·K + i
  if (GATHERED) {
    if (WRITE_LOSS && lid == 0u && w < dims.rows) {
      if (!isCounted(w % dims.positions, prefixLengths[w / dims.positions])) {
        perPosition[w] = 0.0;
      }
    }
    if (w >= dims.gathered) {
      return;
    }
    if (lid == 0u) {
      rowShared = gatheredRows[w];
    }
    row = workgroupUniformLoad(&rowShared);
  } else if (w >= dims.rows) {
    return;
  }
  let P = dims.patchValues;
  let predBase = w * P; // prediction row w (= row unless GATHERED)
  if (row == NONE) {
    if (WRITE_GRAD) {
      for (var j = lid; j < P; j = j + THREADS) {
        gradPred[predBase + j] = 0.0;
      }
    }
    return;
  }
  let b = row / dims.positions;
  let i = row % dims.positions;
  if (lid == 0u) {
    prefixShared = prefixLengths[b];
  }
  let prefix = workgroupUniformLoad(&prefixShared);
  if (!isCounted(i, prefix)) {
    if (WRITE_LOSS && !GATHERED && lid == 0u) {
      perPosition[row] = 0.0;
    }
    if (WRITE_GRAD) {
      for (var j = lid; j < P; j = j + THREADS) {
        gradPred[predBase + j] = 0.0;
      }
    }
    return;
  }
  let targetBase = (row + 1u) * P; // patch i + 1 of the same sample is the next full row

  var mean = 0.0;
  var rstd = 1.0;
  if (NORMALIZE_TARGETS) {
    var sum = 0.0;
    for (var j = lid; j < P; j = j + THREADS) {
      sum = sum + targets[targetBase + j];
    }
    mean = workgroupSum(sum, lid) / f32(P);
    var centred = 0.0;
    for (var j = lid; j < P; j = j + THREADS) {
      let c = targets[targetBase + j] - mean;
      centred = centred + c * c;
    }
    let variance = workgroupSum(centred, lid) / f32(P - 1u); // unbiased, as torch.var
    rstd = inverseSqrt(variance + NORM_EPS);
  }

  if (WRITE_LOSS) {
    var squared = 0.0;
    for (var j = lid; j < P; j = j + THREADS) {
      let d = pred[predBase + j] - (targets[targetBase + j] - mean) * rstd;
      squared = squared + d * d;
    }
    let total = workgroupSum(squared, lid);
    if (lid == 0u) {
      perPosition[row] = total / f32(P);
    }
  }
  if (WRITE_GRAD) {
    let scale = 2.0 / (f32(P) * countedTargets[0]);
    for (var j = lid; j < P; j = j + THREADS) {
      let d = pred[predBase + j] - (targets[targetBase + j] - mean) * rstd;
      gradPred[predBase + j] = d * scale;
    }
  }
}
