// Partial sums of squares of many gradient tensors that live in one buffer (a gradient
// arena, src/model/allocation.ts), in ONE dispatch: one workgroup per block of at most 1024
// values of one tensor,
//   out[outOffset + w] = Σ_{k < count_w} x[start_w + k]²
// where (start_w, count_w) is entry w of a table the wrapper builds (src/kernels/gradNorm.ts):
// each tensor is cut into ⌈size/1024⌉ blocks from its own first value, so a block never
// straddles two tensors and never reads the padding between them.
//
// The summation inside a block is exactly reduce_sum.wgsl's (SQUARE): four values per
// invocation at a stride of 256 (coalesced), added as a pair of pairs, then 8 halvings in
// shared memory — a balanced tree of depth 10 — so every partial, and therefore the norm, is
// bit-for-bit what the one-dispatch-per-tensor reduction gave. Blocks beyond 65535 use a 2-D
// grid folded back as wg.y·groups.x + wg.x; surplus workgroups return.

struct Params {
  blocks: u32,
  outOffset: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
// (first value, number of values) of each block.
@group(0) @binding(3) var<storage, read> table: array<vec2<u32>>;

const THREADS: u32 = 256u;

var<workgroup> partial: array<f32, 256>;

fn term(block: vec2<u32>, k: u32) -> f32 {
  if (k >= block.y) {
    return 0.0;
  }
  let v = x[block.x + k];
  return v * v;
}

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let index = wg.y * groups.x + wg.x;
  if (index >= params.blocks) {
    return; // surplus workgroup of a folded grid (uniform: depends on the workgroup only)
  }
  let block = table[index];
  let pairA = term(block, lid) + term(block, lid + THREADS);
  let pairB = term(block, lid + 2u * THREADS) + term(block, lid + 3u * THREADS);
  partial[lid] = pairA + pairB;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      partial[lid] = partial[lid] + partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[params.outOffset + index] = partial[0];
  }
}
