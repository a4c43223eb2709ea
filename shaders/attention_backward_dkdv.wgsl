// Flash-attention backward, step 2: the key/value gradients of prefix-causal attention,
//   dV_j = Σ_i P_ij dO_i,   dK_j = scale · Σ_i dS_ij q_i,
//   P_ij = exp(scale·q_i·k_j − L_i) (0 where masked),  dS_ij = P_ij (dO_i·v_j − Δ_i),
// with L from the forward and Δ from attention_backward_preprocess.wgsl. P is rebuilt from
// L, so nothing T×T is stored; each workgroup owns its keys' gradients outright, so no
// atomics are needed (WGSL has no f32 atomics). dQ is attention_backward_dq.wgsl's job.
//
// Layout: qkv and dqkv are [B, T, 3·D] ([q ; k ; v], heads contiguous); this kernel writes
// the k and v thirds of dqkv. dO is [B, T, D]; L and Δ are [B, H, T].
//
// Organisation: one 64-invocation workgroup per (block of BLOCK_K keys, head, sample). K and
// V stay in shared memory ([d][key]); dK and dV are register micro-tiles (keys ty + 8a, dims
// tx + 8e of an 8×8 invocation grid). The workgroup walks the query blocks that can see its
// keys (all of them if the keys lie in the prefix, else from the block holding query k0 on):
//   1. load Q and dO ([d][row], rows padded to BLOCK_Q + 1 so that the column walks of
//      step 3 hit distinct banks), L and Δ;
//   2. Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ as register micro-tiles (keys ty + 8a, rows tx + 8b),
//      then P and dS, written to shared memory ([row][key]);
//   3. dV += Pᵀ·dO, dK += dSᵀ·Q.
// HEAD_DIM is padded to a multiple of 8 with zeros; block sizes (overrides, chosen per head
// dim in src/kernels/attention.ts) keep shared memory ≤ 16 KiB and the micro-tiles within
// the register arrays (keys ≤ 4, rows ≤ 4, keys × dims ≤ 32). Blocks smaller than 8 leave
// some invocations idle: their reads are clamped in range and their writes skipped.
//
// Every function-scope array is declared with an explicit `= array<f32, N>()`: Dawn on
// SwiftShader was seen not to re-zero a bare `var s: array<f32, N>;` declared inside a loop
// on each iteration (WGSL requires it), which silently summed scores across key blocks.

// #include "attention_common.wgsl"

override HEAD_DIM: u32 = 64u;
override BLOCK_Q: u32 = 8u;
override BLOCK_K: u32 = 16u;

override PADDED_DIM: u32 = (HEAD_DIM + 7u) / 8u * 8u;
override ROW_STRIDE: u32 = BLOCK_Q + 1u;
override ROWS: u32 = (BLOCK_Q + 7u) / 8u; // query rows per invocation (step 2)
override KEYS: u32 = (BLOCK_K + 7u) / 8u; // keys per invocation (steps 2 and 3)
override DIMS: u32 = PADDED_DIM / 8u; // gradient columns per invocation

const THREADS: u32 = 64u;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> delta: array<f32>;
@group(0) @binding(4) var<storage, read> prefixLengths: array<u32>;
@group(0) @binding(5) var<storage, read_write> dQkv: array<f32>;
@group(0) @binding(6) var<uniform> params: AttentionParams;

var<workgroup> keyTile: array<f32, PADDED_DIM * BLOCK_K>; // [d][key]
var<workgroup> valueTile: array<f32, PADDED_DIM * BLOCK_K>; // [d][key]
var<workgroup> queryTile: array<f32, PADDED_DIM * ROW_STRIDE>; // [d][row]
var<workgroup> gradOutTile: array<f32, PADDED_DIM * ROW_STRIDE>; // [d][row]
var<workgroup> probTile: array<f32, BLOCK_Q * BLOCK_K>; // [row][key]
var<workgroup> gradScoreTile: array<f32, BLOCK_Q * BLOCK_K>; // [row][key]
var<workgroup> rowLse: array<f32, BLOCK_Q>;
var<workgroup> rowDelta: array<f32, BLOCK_Q>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let seqLen = params.seqLen;
  let modelDim = params.modelDim;
  let batch = wg.z;
  let head = wg.y;
  let k0 = wg.x * BLOCK_K;
  let prefix = min(prefixLengths[batch], seqLen);
  let tokenBase = batch * seqLen * 3u * modelDim + head * HEAD_DIM;
  let gradOutBase = batch * seqLen * modelDim + head * HEAD_DIM;
  let rowBase = (batch * params.heads + head) * seqLen;
  let tx = tid % 8u;
  let ty = tid / 8u;

  for (var idx = tid; idx < BLOCK_K * PADDED_DIM; idx += THREADS) {
    let c = idx / PADDED_DIM;
    let d = idx % PADDED_DIM;
    keyTile[d * BLOCK_K + c] = loadQkv(tokenBase, 1u, k0 + c, d);
    valueTile[d * BLOCK_K + c] = loadQkv(tokenBase, 2u, k0 + c, d);
  }

  var gradKey = array<f32, 32>(); // [a][e]
  var gradValue = array<f32, 32>(); // [a][e]

  // Prefix keys are seen by every query; others only by queries i ≥ j ≥ k0.
  let queryStart = select(k0 / BLOCK_Q * BLOCK_Q, 0u, k0 < prefix);
  for (var i0 = queryStart; i0 < seqLen; i0 += BLOCK_Q) {
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
    if (tid < BLOCK_Q) {
      let i = min(i0 + tid, seqLen - 1u);
      rowLse[tid] = lse[rowBase + i];
      rowDelta[tid] = delta[rowBase + i];
    }
    workgroupBarrier();

    var s = array<f32, 16>(); // [a][b]: keys ty + 8a, rows tx + 8b
    var dp = array<f32, 16>();
    for (var d = 0u; d < PADDED_DIM; d++) {
      var kv = array<f32, 4>();
      var vv = array<f32, 4>();
      var qv = array<f32, 4>();
      var gv = array<f32, 4>();
      for (var a = 0u; a < KEYS; a++) {
        let c = min(ty + 8u * a, BLOCK_K - 1u);
        kv[a] = keyTile[d * BLOCK_K + c];
        vv[a] = valueTile[d * BLOCK_K + c];
      }
      for (var b = 0u; b < ROWS; b++) {
        let r = min(tx + 8u * b, BLOCK_Q - 1u);
        qv[b] = queryTile[d * ROW_STRIDE + r];
        gv[b] = gradOutTile[d * ROW_STRIDE + r];
      }
      for (var a = 0u; a < KEYS; a++) {
        for (var b = 0u; b < ROWS; b++) {
          s[a * ROWS + b] = fma(kv[a], qv[b], s[a * ROWS + b]);
          dp[a * ROWS + b] = fma(vv[a], gv[b], dp[a * ROWS + b]);
        }
      }
    }
    for (var a = 0u; a < KEYS; a++) {
      let c = ty + 8u * a;
      for (var b = 0u; b < ROWS; b++) {
        let r = tx + 8u * b;
        if (c < BLOCK_K && r < BLOCK_Q) {
          let allowed = attends(i0 + r, k0 + c, prefix, seqLen);
          let p = select(0.0, exp(s[a * ROWS + b] * params.scale - rowLse[r]), allowed);
          probTile[r * BLOCK_K + c] = p;
          gradScoreTile[r * BLOCK_K + c] = p * (dp[a * ROWS + b] - rowDelta[r]);
        }
      }
    }
    workgroupBarrier();

    for (var r = 0u; r < BLOCK_Q; r++) {
      var pv = array<f32, 4>();
      var sv = array<f32, 4>();
      for (var a = 0u; a < KEYS; a++) {
        let c = min(ty + 8u * a, BLOCK_K - 1u);
        pv[a] = probTile[r * BLOCK_K + c];
        sv[a] = gradScoreTile[r * BLOCK_K + c];
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
    workgroupBarrier();
  }

  for (var a = 0u; a < KEYS; a++) {
    let c = ty + 8u * a;
    let j = k0 + c;
    if (c < BLOCK_K && j < seqLen) {
      let base = tokenBase + j * 3u * modelDim;
      for (var e = 0u; e < DIMS; e++) {
        let d = tx + 8u * e;
        if (d < HEAD_DIM) {
          dQkv[base + modelDim + d] = gradKey[a * DIMS + e] * params.scale;
          dQkv[base + 2u * modelDim + d] = gradValue[a * DIMS + e];
        }
      }
    }
  }
}
