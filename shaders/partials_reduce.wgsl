// Many partial-sum reductions in ONE dispatch (src/kernels/partialsReduce.ts): the second
// pass of every split-K weight gradient (matmul.wgsl with SPLIT_K) and of every LayerNorm's
// parameter gradients (layernorm_backward.wgsl's param_grad_partials) of a backward, run
// after it instead of one small dispatch each. Each reduction r is
//   out[outFirst_r + j] (+)= Σ_{s < count_r} partials[partialsFirst_r + s·stride_r + j],
// j < length_r, cut by the wrapper into blocks of at most 256 outputs (one workgroup each):
// entry w of `table` says where block w reads and writes. One invocation per output adds its
// partials in order from 0.0, exactly as matmul_split_k_reduce.wgsl and
// layernorm_param_reduce.wgsl do (so the sums are the same bits), then adds the output's old
// value when the block accumulates (micro-batches). No atomics: bit-for-bit repeatable.
// Consecutive invocations read consecutive partials (coalesced). Blocks beyond 65535 use a
// 2-D grid folded back as wg.y·groups.x + wg.x; surplus workgroups return.

struct Block {
  outFirst: u32,
  partialsFirst: u32,
  count: u32,
  stride: u32,
  length: u32,
  accumulate: u32,
  _pad0: u32,
  _pad1: u32,
}

struct Params {
  blocks: u32,
  first: u32, // this dispatch's first entry of the table (one table serves several dispatches)
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<Block>;
@group(0) @binding(3) var<uniform> params: Params;

const THREADS: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let index = wg.y * groups.x + wg.x;
  if (index >= params.blocks) {
    return;
  }
  let block = table[params.first + index];
  if (lid >= block.length) {
    return;
  }
  var sum = 0.0;
  for (var s = 0u; s < block.count; s = s + 1u) {
    sum = sum + partials[block.partialsFirst + s * block.stride + lid];
  }
  let o = block.outFirst + lid;
  if (block.accumulate != 0u) {
    sum = out[o] + sum;
  }
  out[o] = sum;
}
