// What the three attention kernels share, so the mask and the qkv layout have one
// definition: the uniform block, the prefix-causal mask, and the read of one q/k/v element.
// The including shader declares `qkv` (the [B, T, 3·D] input), `params` and HEAD_DIM.

struct AttentionParams {
  seqLen: u32,
  heads: u32,
  modelDim: u32,
  scale: f32,
}

// The prefix-causal mask (ml-aim's PrefixCausalAttention): query i sees key j iff j is in the
// bidirectional prefix (j < prefix) or not after it (j ≤ i). prefix = T is full attention,
// prefix ≤ 1 pure causal. Out-of-range tokens see and are seen by nothing.
fn attends(i: u32, j: u32, prefix: u32, seqLen: u32) -> bool {
  return i < seqLen && j < seqLen && (j < prefix || j <= i);
}

// Element d of the q/k/v (part 0/1/2) vector of token t, or 0 past the sequence or head.
fn loadQkv(tokenBase: u32, part: u32, t: u32, d: u32) -> f32 {
  if (t >= params.seqLen || d >= HEAD_DIM) {
    return 0.0;
  }
  return qkv[tokenBase + t * 3u * params.modelDim + part * params.modelDim + d];
}
