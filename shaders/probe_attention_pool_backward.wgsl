// Backward of the attention pooling (probe_attention_pool_forward.wgsl), given d pooled
// [B, D] and the forward's probabilities p [B, H, N] and output pooled [B, D]:
//   dv[b, n, h·dh + j] = p[b, h, n] · dpooled[b, h·dh + j]
//   dp[n]  = Σ_j dpooled[b, h·dh + j] · v[b, n, h·dh + j]
//   δ      = Σ_j dpooled[b, h·dh + j] · pooled[b, h·dh + j]          (= Σ_n p[n]·dp[n])
//   ds[n]  = p[n] · (dp[n] − δ)                                       (softmax backward)
//   dk[b, n, h·dh + j] = scale · ds[n] · q[h·dh + j]
//   dqSample[b, h·dh + j] = scale · Σ_n ds[n] · k[b, n, h·dh + j]
// The cls_token's gradient is Σ_b dqSample[b] (a column sum after this kernel). dk and dv
// feed the weight gradients dWk = dkᵀ·x̂, dWv = dvᵀ·x̂ (matmuls). Nothing flows to x̂: the
// trunk is frozen and the BatchNorm has no parameters.
//
// Layout: one workgroup per (sample, head) pair, THREADS invocations; ds lives in shared
// memory (at most MAX_TOKENS tokens, as in the forward).

struct Params {
  batch: u32,
  tokens: u32,
  heads: u32,
  headDim: u32,
  scale: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

const THREADS: u32 = 64u;
const MAX_TOKENS: u32 = 1024u;

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> probs: array<f32>;
@group(0) @binding(4) var<storage, read> pooled: array<f32>;
@group(0) @binding(5) var<storage, read> dPooled: array<f32>;
@group(0) @binding(6) var<storage, read_write> dqSample: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;

var<workgroup> ds: array<f32, MAX_TOKENS>;
// #include "workgroup_reduce.wgsl"

@compute @workgroup_size(THREADS)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let pair = wg.y * groups.x + wg.x;
  if (pair >= params.batch * params.heads) {
    return;
  }
  let b = pair / params.heads;
  let h = pair - b * params.heads;
  let N = params.tokens;
  let dh = params.headDim;
  let D = params.heads * dh;
  let head = h * dh;
  let out = b * D + head;

  var delta = 0.0;
  for (var j = lid; j < dh; j = j + THREADS) {
    delta = fma(dPooled[out + j], pooled[out + j], delta);
  }
  delta = workgroupSum(lid, delta);
  for (var n = lid; n < N; n = n + THREADS) {
    let row = (b * N + n) * D + head;
    var dp = 0.0;
    for (var j = 0u; j < dh; j = j + 1u) {
      dp = fma(dPooled[out + j], v[row + j], dp);
    }
    ds[n] = probs[pair * N + n] * (dp - delta);
  }
  workgroupBarrier();
  for (var j = lid; j < dh; j = j + THREADS) {
    var acc = 0.0;
    for (var n = 0u; n < N; n = n + 1u) {
      acc = fma(ds[n], k[(b * N + n) * D + head + j], acc);
    }
    dqSample[out + j] = params.scale * acc;
  }
  for (var i = lid; i < N * dh; i = i + THREADS) {
    let n = i / dh;
    let j = i - n * dh;
    let at = (b * N + n) * D + head + j;
    dk[at] = params.scale * ds[n] * q[head + j];
    dv[at] = probs[pair * N + n] * dPooled[out + j];
  }
}
