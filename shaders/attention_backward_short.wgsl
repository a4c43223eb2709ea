// The whole prefix-causal attention backward of one (sample, head) in one workgroup, for
// short sequences (T ≤ MAX_SEQ = 64: AIM's 8×8 patch grids): one dispatch per block instead
// of the three of attention_backward_{preprocess,dkdv,dq}.wgsl, and S, dP computed once
// (not once for dK/dV and again for dQ):
//   Δ_i = dO_i·o_i,  P_ij = exp(scale·q_i·k_j − L_i) (0 where masked),
//   dS_ij = P_ij (dO_i·v_j − Δ_i),
//   dV_j = Σ_i P_ij dO_i,  dK_j = scale · Σ_i dS_ij q_i,  dQ_i = scale · Σ_j dS_ij k_j,
// with L from the forward. Nothing T×T is stored and no atomics are needed: the workgroup
// owns every gradient of its (sample, head).
//
// Layout: qkv and dqkv are [B, T, 3·D] ([q ; k ; v], heads contiguous); o and dO are
// [B, T, D]; L is [B, H, T]. This kernel writes all three thirds of its head's dqkv.
//
// Organisation: one 64-invocation workgroup per (head, sample), an 8×8 invocation grid.
//   0. Δ and L of every row into shared memory (one invocation per row).
//   Then, per block of BLOCK_K keys (K, V in shared memory, [d][key]; dK, dV in registers,
//   keys ty + 8a, dims tx + 8e, as in attention_backward_dkdv.wgsl), per block of 8 query
//   rows that can see those keys (all rows if the keys lie in the prefix, else from row k0):
//   1. load Q and dO ([d][row], rows padded to 9 so that column walks hit distinct banks);
//   2. Sᵀ and dPᵀ (keys ty + 8a, row tx), then P and dS into shared memory ([row][key]);
//   3. dV += Pᵀ·dO, dK += dSᵀ·Q; and dQ of the rows (row ty, dims tx + 8e) += dS·K.
// dQ accumulates across key blocks in dqkv itself: each of its elements always belongs to
// the same invocation (row mod 8 = ty, dim mod 8 = tx), so the read-modify-write needs no
// barrier; the first key block (which every row sees) writes instead of adding, and the
// last block a row sees applies the scale. With BLOCK_K ≥ T there is one key block and dQ
// is written once. K's rows are padded to BLOCK_K + 1 for step 3's column walk.
//
// HEAD_DIM is padded to a multiple of 8 with zeros. Limits (checked by the wrapper,
// src/kernels/attentionPlan.ts): padded HEAD_DIM ≤ 64 (8 dQ dims an invocation), BLOCK_K a
// multiple of 8 and ≤ 64 (8 keys an invocation), keys × dims ≤ 32 (the dK/dV registers),
// T ≤ MAX_SEQ, and the shared memory within the device's limit.
//
// Every function-scope array is declared with an explicit `= array<f32, N>()`: Dawn on
// SwiftShader was seen not to re-zero a bare `var s: array<f32, N>;` declared inside a loop
// on each iteration (WGSL requires it).

// #include "attention_common.wgsl"

override HEAD_DIM: u32 = 32u;
override BLOCK_K: u32 = 32u;
override MAX_SEQ: u32 = 64u;

override PADDED_DIM: u32 = (HEAD_DIM + 7u) / 8u * 8u;
override KEY_STRIDE: u32 = BLOCK_K + 1u;
override KEYS: u32 = BLOCK_K / 8u; // keys per invocation (steps 2 and 3)
override DIMS: u32 = PADDED_DIM / 8u; // gradient columns per invocation

const BLOCK_Q: u32 = 8u; // query rows per block: one per invocation row or column
const ROW_STRIDE: u32 = 9u; // BLOCK_Q + 1
const THREADS: u32 = 64u;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> out: array<f32>;
@group(0) @binding(2) var<storage, read> dOut: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> prefixLengths: array<u32>;
@group(0) @binding(5) var<storage, read_write> dQkv: array<f32>;
@group(0) @binding(6) var<uniform> params: AttentionParams;

var<workgroup> keyTile: array<f32, PADDED_DIM * KEY_STRIDE>; // [d][key]
var<workgroup> valueTile: array<f32, PADDED_DIM * BLOCK_K>; // [d][key]
var<workgroup> queryTile: array<f32, PADDED_DIM * ROW_STRIDE>; // [d][row]
var<workgroup> gradOutTile: array<f32, PADDED_DIM * ROW_STRIDE>; // [d][row]
var<workgroup> probTile: array<f32, BLOCK_Q * BLOCK_K>; // [row][key]
var<workgroup> gradScoreTile: array<f32, BLOCK_Q * BLOCK_K>; // [row][key]
var<workgroup> rowLse: array<f32, MAX_SEQ>;
var<workgroup> rowDelta: array<f32, MAX_SEQ>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let seqLen = params.seqLen;
  let modelDim = params.modelDim;
  let scale = params.scale;
  let batch = wg.z;
  let head = wg.y;
  let prefix = min(prefixLengths[batch], seqLen);
  let tokenBase = batch * seqLen * 3u * modelDim + head * HEAD_DIM;
  let gradOutBase = batch * seqLen * modelDim + head * HEAD_DIM;
  let rowBase = (batch * params.heads + head) * seqLen;
  let tx = tid % 8u;
  let ty = tid / 8u;

  // 0. Δ_i = dO_i·o_i (the same fma chain as attention_backward_preprocess.wgsl) and L_i.
  for (var i = tid; i < seqLen; i += THREADS) {
    let base = gradOutBase + i * modelDim;
    var sum = 0.0;
    for (var d = 0u; d < HEAD_DIM; d++) {
      sum = fma(dOut[base + d], out[base + d], sum);
    }
    rowDelta[i] = sum;
    rowLse[i] = lse[rowBase + i];
  }

  for (var k0 = 0u; k0 < seqLen; k0 += BLOCK_K) {
    for (var idx = tid; idx < BLOCK_K * PADDED_DIM; idx += THREADS) {
      let c = idx / PADDED_DIM;
      let d = idx % PADDED_DIM;
      keyTile[d * KEY_STRIDE + c] = loadQkv(tokenBase, 1u, k0 + c, d);
      valueTile[d * BLOCK_K + c] = loadQkv(tokenBase, 2u, k0 + c, d);
    }

    var gradKey = array<f32, 32>(); // [a][e]
    var gradValue = array<f32, 32>(); // [a][e]

    // Prefix keys are seen by every query; others only by queries i ≥ j ≥ k0.
    let queryStart = select(k0, 0u, k0 < prefix);
    for (var i0 = queryStart; i0 < seqLen; i0 += BLOCK_Q) {
      // 1.
      for (var idx = tid; idx < BLOCK_Q * PADDED_DIM; idx += THREADS) {
        let r = idx / PADDED_DIM;
        let d = idx % PADDED_DIM;
        let i = i0 + r;
        queryTile[d * ROW_STRIDE + r] = loadQkv(tokenBase, 0u, i, d);
        var g = 0.0;
        if (i < seqLen && d < HEAD_DIM) {
          g = dOut[gradOutBase + i * modelDim + d];
        }
        gradOutTile[d * ROW_STRIDE + r] = g;
      }
      workgroupBarrier();

      // 2. Row tx against keys ty + 8a.
      var s = array<f32, 8>();
      var dp = array<f32, 8>();
      for (var d = 0u; d < PADDED_DIM; d++) {
        let q = queryTile[d * ROW_STRIDE + tx];
        let g = gradOutTile[d * ROW_STRIDE + tx];
        for (var a = 0u; a < KEYS; a++) {
          let c = ty + 8u * a;
          s[a] = fma(keyTile[d * KEY_STRIDE + c], q, s[a]);
          dp[a] = fma(valueTile[d * BLOCK_K + c], g, dp[a]);
        }
      }
      let row = min(i0 + tx, seqLen - 1u);
      for (var a = 0u; a < KEYS; a++) {
        let c = ty + 8u * a;
        let allowed = attends(i0 + tx, k0 + c, prefix, seqLen);
        let p = select(0.0, exp(s[a] * scale - rowLse[row]), allowed);
        probTile[tx * BLOCK_K + c] = p;
        gradScoreTile[tx * BLOCK_K + c] = p * (dp[a] - rowDelta[row]);
      }
      workgroupBarrier();

      // 3. dV, dK of keys ty + 8a, dims tx + 8e.
      for (var r = 0u; r < BLOCK_Q; r++) {
        var pv = array<f32, 8>();
        var sv = array<f32, 8>();
        for (var a = 0u; a < KEYS; a++) {
          pv[a] = probTile[r * BLOCK_K + ty + 8u * a];
          sv[a] = gradScoreTile[r * BLOCK_K + ty + 8u * a];
        }
        for (var e = 0u; e < DIMS; e++) {
          let d = tx + 8u * e;
          let g = gradOutTile[d * ROW_STRIDE + r];
          let q = queryTile[d * ROW_STRIDE + r];
          for (var a = 0u; a < KEYS; a++) {
            gradValue[a * DIMS + e] = fma(pv[a], g, gradValue[a * DIMS + e]);
            gradKey[a * DIMS + e] = fma(sv[a], q, gradKey[a * DIMS + e]);
          }
        }
      }
      // dQ of row i0 + ty, dims tx + 8e, from this key block.
      let i = i0 + ty;
      if (i < seqLen) {
        var gradQuery = array<f32, 8>();
        for (var c = 0u; c < BLOCK_K; c++) {
          let ds = gradScoreTile[ty * BLOCK_K + c];
          for (var e = 0u; e < DIMS; e++) {
            gradQuery[e] = fma(ds, keyTile[(tx + 8u * e) * KEY_STRIDE + c], gradQuery[e]);
          }
        }
        // The key blocks row block i0 sees end at max(S, i0 + 8) (see queryStart).
        let last = k0 + BLOCK_K >= min(seqLen, max(prefix, i0 + BLOCK_Q));
        let base = tokenBase + i * 3u * modelDim;
        for (var e = 0u; e < DIMS; e++) {
          let d = tx + 8u * e;
          if (d < HEAD_DIM) {
            var v = gradQuery[e];
            if (k0 > 0u) {
              v += dQkv[base + d];
            }
            if (last) {
              v *= scale;
            }
            dQkv[base + d] = v;
          }
        }
      }
      workgroupBarrier();
    }

    for (var a = 0u; a < KEYS; a++) {
      let j = k0 + ty + 8u * a;
      if (j < seqLen) {
        let base = tokenBase + j * 3u * modelDim;
        for (var e = 0u; e < DIMS; e++) {
          let d = tx + 8u * e;
          if (d < HEAD_DIM) {
            dQkv[base + modelDim + d] = gradKey[a * DIMS + e] * scale;
            dQkv[base + 2u * modelDim + d] = gradValue[a * DIMS + e];
          }
        }
      }
    }
  }
}
