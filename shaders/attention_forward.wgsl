// Fused prefix-causal multi-head attention, forward (flash-attention style):
//   o_i = Σ_j softmax_j(s_ij)·v_j,  s_ij = (q_i·k_j)/√dh,  L_i = log Σ_j exp(s_ij)
// over the keys j that query i may attend: j < S_b (the bidirectional prefix) or j ≤ i.
//
// Layout (ml-aim's Attention): qkv is [B, T, 3·D], D = H·dh, the last axis ordered
// [q ; k ; v], each third split into H heads of dh contiguous columns. o is [B, T, D] in the
// same head-contiguous layout (it feeds the proj Linear directly). L is [B, H, T] and is
// saved for the backward kernels, which rebuild the probabilities from it.
//
// Organisation: one 64-invocation workgroup per (block of BLOCK_Q queries, head, sample).
// The T×T score matrix never reaches global memory: the workgroup walks the keys in blocks
// of BLOCK_K with an online softmax. Per key block:
//   1. load K (transposed, [d][key]) into shared memory;
//   2. S = Q·Kᵀ as a register micro-tile per invocation (an 8×8 grid of invocations: rows
//      ty + 8a, keys tx + 8c), masked; each invocation's row maxima go to shared memory;
//   3. every invocation combines the 8 shares of its rows' maxima into the new running max,
//      turns its scores into probabilities (written to shared memory), rescales its running
//      share of Σ exp; meanwhile the V block is loaded into the buffer K occupied;
//   4. O (a register micro-tile: rows ty + 8a, dims tx + 8e) is rescaled and += P·V.
// The shares of Σ exp are combined once at the end. Shared tiles are laid out so that the
// invocations of one row of the 8×8 grid read consecutive words (no bank conflicts), and the
// transposed Q and K tiles have a padded row stride (BLOCK + 1 words) so that their stores —
// consecutive invocations write consecutive d, i.e. one word per row of the tile — hit
// distinct banks instead of one (32-way conflicts at a stride of 32).
// Key blocks that every query of the block must ignore (all keys ≥ S_b and > the last
// query) are skipped: the loop stops at max(S_b, q0 + BLOCK_Q).
//
// HEAD_DIM is padded to a multiple of 8 (PADDED_DIM) with zeros in shared memory. Block
// sizes are override constants chosen per head dim by src/kernels/attention.ts so that the
// shared memory stays ≤ 16 KiB and the per-invocation tiles fit the register arrays below
// (rows ≤ 4, keys ≤ 4, dims ≤ 16, rows × dims ≤ 32).
//
// Every function-scope array is declared with an explicit `= array<f32, N>()`: Dawn on
// SwiftShader was seen not to re-zero a bare `var s: array<f32, N>;` declared inside a loop
// on each iteration (WGSL requires it), which silently summed scores across key blocks.

// #include "attention_common.wgsl"

override HEAD_DIM: u32 = 64u;
override BLOCK_Q: u32 = 32u;
override BLOCK_K: u32 = 16u;

override PADDED_DIM: u32 = (HEAD_DIM + 7u) / 8u * 8u;
override ROWS: u32 = (BLOCK_Q + 7u) / 8u; // query rows per invocation
override KEYS: u32 = (BLOCK_K + 7u) / 8u; // keys per invocation (scores)
override DIMS: u32 = PADDED_DIM / 8u; // output columns per invocation
override Q_STRIDE: u32 = BLOCK_Q + 1u; // queryTile row stride (padded: see the header)
override K_STRIDE: u32 = BLOCK_K + 1u; // keyValueTile row stride while it holds K

const THREADS: u32 = 64u;
// Scores of masked pairs. Finite, so that max/exp of a fully masked row never make NaN.
const MASKED: f32 = -3.0e38;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> prefixLengths: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(0) @binding(4) var<uniform> params: AttentionParams;

var<workgroup> queryTile: array<f32, PADDED_DIM * Q_STRIDE>; // [d][row]
var<workgroup> keyValueTile: array<f32, PADDED_DIM * K_STRIDE>; // K as [d][key], then V as [key][d]
var<workgroup> probTile: array<f32, BLOCK_K * BLOCK_Q>; // [key][row]
var<workgroup> rowShares: array<f32, BLOCK_Q * 8u>; // [row][tx]: per-invocation max, then sum

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let seqLen = params.seqLen;
  let batch = wg.z;
  let head = wg.y;
  let q0 = wg.x * BLOCK_Q;
  let prefix = min(prefixLengths[batch], seqLen);
  let tokenBase = batch * seqLen * 3u * params.modelDim + head * HEAD_DIM;
  let tx = tid % 8u;
  let ty = tid / 8u;

  for (var idx = tid; idx < BLOCK_Q * PADDED_DIM; idx += THREADS) {
    let r = idx / PADDED_DIM;
    let d = idx % PADDED_DIM;
    queryTile[d * Q_STRIDE + r] = loadQkv(tokenBase, 0u, q0 + r, d);
  }

  var acc = array<f32, 32>(); // O micro-tile [a][e], unnormalised
  var rowMax = array<f32, 4>(); // running max of each row (identical in the row's 8 invocations)
  var rowSum = array<f32, 4>(); // this invocation's share of Σ exp(s − rowMax)
  for (var a = 0u; a < ROWS; a++) {
    rowMax[a] = MASKED;
  }

  let keyEnd = min(seqLen, max(prefix, q0 + BLOCK_Q));
  for (var k0 = 0u; k0 < keyEnd; k0 += BLOCK_K) {
    for (var idx = tid; idx < BLOCK_K * PADDED_DIM; idx += THREADS) {
      let c = idx / PADDED_DIM;
      let d = idx % PADDED_DIM;
      keyValueTile[d * K_STRIDE + c] = loadQkv(tokenBase, 1u, k0 + c, d);
    }
    workgroupBarrier();

    var s = array<f32, 16>(); // score micro-tile [a][c]
    for (var d = 0u; d < PADDED_DIM; d++) {
      var qv = array<f32, 4>();
      var kv = array<f32, 4>();
      for (var a = 0u; a < ROWS; a++) {
        qv[a] = queryTile[d * Q_STRIDE + min(ty + 8u * a, BLOCK_Q - 1u)];
      }
      for (var c = 0u; c < KEYS; c++) {
        kv[c] = keyValueTile[d * K_STRIDE + min(tx + 8u * c, BLOCK_K - 1u)];
      }
      for (var a = 0u; a < ROWS; a++) {
        for (var c = 0u; c < KEYS; c++) {
          s[a * KEYS + c] = fma(qv[a], kv[c], s[a * KEYS + c]);
        }
      }
    }
    for (var a = 0u; a < ROWS; a++) {
      let r = ty + 8u * a;
      var localMax = MASKED;
      for (var c = 0u; c < KEYS; c++) {
        let key = tx + 8u * c;
        let allowed = r < BLOCK_Q && key < BLOCK_K && attends(q0 + r, k0 + key, prefix, seqLen);
        let score = select(MASKED, s[a * KEYS + c] * params.scale, allowed);
        s[a * KEYS + c] = score;
        localMax = max(localMax, score);
      }
      if (r < BLOCK_Q) {
        rowShares[r * 8u + tx] = localMax;
      }
    }
    workgroupBarrier();

    // K is no longer read: load V ([key][d]) into its buffer while the softmax runs.
    for (var idx = tid; idx < BLOCK_K * PADDED_DIM; idx += THREADS) {
      let c = idx / PADDED_DIM;
      let d = idx % PADDED_DIM;
      keyValueTile[c * PADDED_DIM + d] = loadQkv(tokenBase, 2u, k0 + c, d);
    }
    var alpha = array<f32, 4>();
    for (var a = 0u; a < ROWS; a++) {
      let r = ty + 8u * a;
      let shares = min(r, BLOCK_Q - 1u) * 8u;
      var newMax = rowMax[a];
      for (var t = 0u; t < 8u; t++) {
        newMax = max(newMax, rowShares[shares + t]);
      }
      alpha[a] = exp(rowMax[a] - newMax);
      rowMax[a] = newMax;
      var sum = 0.0;
      for (var c = 0u; c < KEYS; c++) {
        let key = tx + 8u * c;
        let score = s[a * KEYS + c];
        let p = select(0.0, exp(score - newMax), score > MASKED);
        if (r < BLOCK_Q && key < BLOCK_K) {
          probTile[key * BLOCK_Q + r] = p;
        }
        sum += p;
      }
      rowSum[a] = rowSum[a] * alpha[a] + sum;
    }
    workgroupBarrier();

    for (var a = 0u; a < ROWS; a++) {
      for (var e = 0u; e < DIMS; e++) {
        acc[a * DIMS + e] *= alpha[a];
      }
    }
    for (var c = 0u; c < BLOCK_K; c++) {
      var pv = array<f32, 4>();
      var vv = array<f32, 16>();
      for (var a = 0u; a < ROWS; a++) {
        pv[a] = probTile[c * BLOCK_Q + min(ty + 8u * a, BLOCK_Q - 1u)];
      }
      for (var e = 0u; e < DIMS; e++) {
        vv[e] = keyValueTile[c * PADDED_DIM + tx + 8u * e];
      }
      for (var a = 0u; a < ROWS; a++) {
        for (var e = 0u; e < DIMS; e++) {
          acc[a * DIMS + e] = fma(pv[a], vv[e], acc[a * DIMS + e]);
        }
      }
    }
    workgroupBarrier();
  }

  // Combine the 8 shares of each row's Σ exp, then normalise and store.
  for (var a = 0u; a < ROWS; a++) {
    let r = ty + 8u * a;
    if (r < BLOCK_Q) {
      rowShares[r * 8u + tx] = rowSum[a];
    }
  }
  workgroupBarrier();
  for (var a = 0u; a < ROWS; a++) {
    let r = ty + 8u * a;
    let i = q0 + r;
    if (r < BLOCK_Q && i < seqLen) {
      var total = 0.0;
      for (var t = 0u; t < 8u; t++) {
        total += rowShares[r * 8u + t];
      }
      let outBase = (batch * seqLen + i) * params.modelDim + head * HEAD_DIM;
      for (var e = 0u; e < DIMS; e++) {
        let d = tx + 8u * e;
        if (d < HEAD_DIM) {
          out[outBase + d] = acc[a * DIMS + e] / total;
        }
      }
      if (tx == 0u) {
        lse[(batch * params.heads + head) * seqLen + i] = rowMax[a] + log(total);
      }
    }
  }
}
