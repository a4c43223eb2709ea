// ml-aim's AttentionPoolingClassifier pooling, forward: one learned query (the cls_token,
// [D]) attends over the N tokens of each sample with k = x·Wkᵀ and v = x·Wvᵀ (computed by
// matmuls before this kernel), split into H heads of dh = D / H:
//   s[b, h, n] = scale · Σ_j q[h·dh + j] · k[b, n, h·dh + j]        scale = 1/√dh
//   p[b, h, n] = softmax_n(s[b, h, ·])
//   pooled[b, h·dh + j] = Σ_n p[b, h, n] · v[b, n, h·dh + j]
// (one query, so ml-aim's mean over queries is the identity). The probabilities p [B, H, N]
// are saved for the backward (probe_attention_pool_backward.wgsl).
//
// Layout: one workgroup per (sample, head) pair (b = wg index / H); THREADS invocations
// stride over the tokens for the scores (each a dh-long dot product) and over dh for the
// weighted sum. The scores live in shared memory: at most MAX_TOKENS tokens (the wrapper
// refuses more). Max and sum are shared-memory tree reductions.

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
@group(0) @binding(3) var<storage, read_write> pooled: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> scores: array<f32, MAX_TOKENS>;
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

  var best = -3.402823e38;
  for (var n = lid; n < N; n = n + THREADS) {
    let row = (b * N + n) * D + head;
    var s = 0.0;
    for (var j = 0u; j < dh; j = j + 1u) {
      s = fma(q[head + j], k[row + j], s);
    }
    s = s * params.scale;
    scores[n] = s;
    best = max(best, s);
  }
  let m = workgroupMax(lid, best);
  var sum = 0.0;
  for (var n = lid; n < N; n = n + THREADS) {
    let e = exp(scores[n] - m);
    scores[n] = e;
    sum = sum + e;
  }
  let inv = 1.0 / workgroupSum(lid, sum);
  for (var n = lid; n < N; n = n + THREADS) {
    let p = scores[n] * inv;
    scores[n] = p;
    probs[pair * N + n] = p;
  }
  workgroupBarrier();
  for (var j = lid; j < dh; j = j + THREADS) {
    var acc = 0.0;
    for (var n = 0u; n < N; n = n + 1u) {
      acc = fma(scores[n], v[(b * N + n) * D + head + j], acc);
    }
    pooled[b * D + head + j] = acc;
  }
}
