// Flash-attention backward, step 3: the query gradients of prefix-causal attention,
//   dQ_i = scale · Σ_j dS_ij k_j,
//   dS_ij = P_ij (dO_i·v_j − Δ_i),  P_ij = exp(scale·q_i·k_j − L_i) (0 where masked),
// with L from the forward and Δ from attention_backward_preprocess.wgsl. Like the dK/dV
// kernel it rebuilds P from L and owns its outputs (no atomics, nothing T×T stored).
//
// Layout: qkv and dqkv are [B, T, 3·D] ([q ; k ; v], heads contiguous); this kernel writes
// the q third of dqkv. dO is [B, T, D]; L and Δ are [B, H, T].
//
// Organisation: one 64-invocation workgroup per (block of BLOCK_Q queries, head, sample),
// the mirror image of the forward: Q and dO stay in shared memory ([d][row]); dQ is a
// register micro-tile (rows ty + 8a, dims tx + 8e of an 8×8 invocation grid). The workgroup
// walks the key blocks its queries can see (the loop stops at max(S_b, q0 + BLOCK_Q)):
//   1. load K and V ([d][key], keys padded to BLOCK_K + 1 so that the column walk of
//      step 3 and the transposed stores hit distinct banks); Q and dO are stored once,
//      also transposed, with rows padded to BLOCK_Q + 1 for the same reason;
//   2. S = Q·Kᵀ and dP = dO·Vᵀ as register micro-tiles (rows ty + 8a, keys tx + 8c), then
//      dS, written to shared memory ([key][row]);
//   3. dQ += dS·K.
// HEAD_DIM is padded to a multiple of 8 with zeros; block sizes (overrides, chosen per head
// dim in src/kernels/attention.ts) keep shared memory ≤ 16 KiB and the micro-tiles within
// the register arrays (rows ≤ 4, keys ≤ 4, rows × dims ≤ 32). Blocks smaller than 8 leave
// some invocations idle: their reads are clamped in range and their writes skipped.
//
// Every function-scope array is declared with an explicit `= array<f32, N>()`: Dawn on
// SwiftShader was seen not to re-zero a bare `var s: array<f32, N>;` declared inside a loop
// on each iteration (WGSL requires it), which silently summed scores across key blocks.

// #include "attention_common.wgsl"

override HEAD_DIM: u32 = 64u;
override BLOCK_Q: u32 = 16u;
override BLOCK_K: u32 = 8u;

override PADDED_DIM: u32 = (HEAD_DIM + 7u) / 8u * 8u;
override KEY_STRIDE: u32 = BLOCK_K + 1u;
override ROW_STRIDE: u32 = BLOCK_Q + 1u;
override ROWS: u32 = (BLOCK_Q + 7u) / 8u; // query rows per invocation
override KEYS: u32 = (BLOCK_K + 7u) / 8u; // keys per invocation (step 2)
override DIMS: u32 = PADDED_DIM / 8u; // gradient columns per invocation

const THREADS: u32 = 64u;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> delta: array<f32>;
@group(0) @binding(4) var<storage, read> prefixLengths: array<u32>;
@group(0) @binding(5) var<storage, read_write> dQkv: array<f32>;
@group(0) @binding(6) var<uniform> params: AttentionParams;

var<workgroup> queryTile: array<f32, PADDED_DIM * ROW_STRIDE>; // [d][row]
var<workgroup> gradOutTile: array<f32, PADDED_DIM * ROW_STRIDE>; // [d][row]
var<workgroup> keyTile: array<f32, PADDED_DIM * KEY_STRIDE>; // [d][key]
var<workgroup> valueTile: array<f32, PADDED_DIM * KEY_STRIDE>; // [d][key]
var<workgroup> gradScoreTile: array<f32, BLOCK_K * BLOCK_Q>; // [key][row]
var<workgroup> rowLse: array<f32, BLOCK_Q>;
var<workgroup> rowDelta: array<f32, BLOCK_Q>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let seqLen = params.seqLen;
  let modelDim = params.modelDim;
  let batch = wg.z;
  let head = wg.y;
  let q0 = wg.x * BLOCK_Q;
  let prefix = min(prefixLengths[batch], seqLen);
  let tokenBase = batch * seqLen * 3u * modelDim + head * HEAD_DIM;
  let gradOutBase = batch * seqLen * modelDim + head * HEAD_DIM;
  let rowBase = (batch * params.heads + head) * seqLen;
  let tx = tid % 8u;
  let ty = tid / 8u;

  for (var idx = tid; idx < BLOCK_Q * PADDED_DIM; idx += THREADS) {
    let r = idx / PADDED_DIM;
    let d = idx % PADDED_DIM;
    let i = q0 + r;
    queryTile[d * ROW_STRIDE + r] = loadQkv(tokenBase, 0u, i, d);
    var g = 0.0;
    if (i < seqLen && d < HEAD_DIM) {
      g = dOut[gradOutBase + i * modelDim + d];
    }
    gradOutTile[d * ROW_STRIDE + r] = g;
  }
  if (tid < BLOCK_Q) {
    let i = min(q0 + tid, seqLen - 1u);
    rowLse[tid] = lse[rowBase + i];
    rowDelta[tid] = delta[rowBase + i];
  }

  var gradQuery = array<f32, 32>(); // [a][e]

  let keyEnd = min(seqLen, max(prefix, q0 + BLOCK_Q));
  for (var k0 = 0u; k0 < keyEnd; k0 += BLOCK_K) {
    for (var idx = tid; idx < BLOCK_K * PADDED_DIM; idx += THREADS) {
      let c = idx / PADDED_DIM;
      let d = idx % PADDED_DIM;
      keyTile[d * KEY_STRIDE + c] = loadQkv(tokenBase, 1u, k0 + c, d);
      valueTile[d * KEY_STRIDE + c] = loadQkv(tokenBase, 2u, k0 + c, d);
    }
    workgroupBarrier();

    var s = array<f32, 16>(); // [a][c]: rows ty + 8a, keys tx + 8c
    var dp = array<f32, 16>();
    for (var d = 0u; d < PADDED_DIM; d++) {
      var qv = array<f32, 4>();
      var gv = array<f32, 4>();
      var kv = array<f32, 4>();
      var vv = array<f32, 4>();
      for (var a = 0u; a < ROWS; a++) {
        let r = min(ty + 8u * a, BLOCK_Q - 1u);
        qv[a] = queryTile[d * ROW_STRIDE + r];
        gv[a] = gradOutTile[d * ROW_STRIDE + r];
      }
      for (var c = 0u; c < KEYS; c++) {
        let key = min(tx + 8u * c, BLOCK_K - 1u);
        kv[c] = keyTile[d * KEY_STRIDE + key];
        vv[c] = valueTile[d * KEY_STRIDE + key];
      }
      for (var a = 0u; a < ROWS; a++) {
        for (var c = 0u; c < KEYS; c++) {
          s[a * KEYS + c] = fma(qv[a], kv[c], s[a * KEYS + c]);
          dp[a * KEYS + c] = fma(gv[a], vv[c], dp[a * KEYS + c]);
        }
      }
    }
    for (var a = 0u; a < ROWS; a++) {
      let r = ty + 8u * a;
      for (var c = 0u; c < KEYS; c++) {
        let key = tx + 8u * c;
        if (r < BLOCK_Q && key < BLOCK_K) {
          let allowed = attends(q0 + r, k0 + key, prefix, seqLen);
          let p = select(0.0, exp(s[a * KEYS + c] * params.scale - rowLse[r]), allowed);
          gradScoreTile[key * BLOCK_Q + r] = p * (dp[a * KEYS + c] - rowDelta[r]);
        }
      }
    }
    workgroupBarrier();

    for (var c = 0u; c < BLOCK_K; c++) {
      var sv = array<f32, 4>();
      for (var a = 0u; a < ROWS; a++) {
        sv[a] = gradScoreTile[c * BLOCK_Q + min(ty + 8u * a, BLOCK_Q - 1u)];
      }
      for (var e = 0u; e < DIMS; e++) {
        let k = keyTile[(tx + 8u * e) * KEY_STRIDE + c];
        for (var a = 0u; a < ROWS; a++) {
          gradQuery[a * DIMS + e] = fma(sv[a], k, gradQuery[a * DIMS + e]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var a = 0u; a < ROWS; a++) {
    let r = ty + 8u * a;
    let i = q0 + r;
    if (r < BLOCK_Q && i < seqLen) {
      let base = tokenBase + i * 3u * modelDim;
      for (var e = 0u; e < DIMS; e++) {
        let d = tx + 8u * e;
        if (d < HEAD_DIM) {
          dQkv[base + d] = gradQuery[a * DIMS + e] * params.scale;
        }
      }
    }
  }
}
