// One pass of a tree reduction of an f32 vector x of length n:
//   out[outOffset + w] = (scale · Σ_{k < 1024} f(x[w·1024 + k])) / divisor[0]
// for every block w of 1024 consecutive values (values past n count as 0), f(v) = v, or
// f(v) = v² with SQUARE (sum of squares, for gradient norms). The divisor is applied only
// with HAS_DIVISOR (a mean whose count lives on the GPU, e.g. the loss over counted targets).
// Run repeatedly (n → ⌈n/1024⌉ → … → 1) it sums any length; see src/kernels/reduceSum.ts.
//
// Why a tree: recursive summation of n values has error up to (n−1)·u·Σ|x|; a balanced
// binary tree has depth log2(n), so its error is ≤ γ_depth·Σ|x| with depth 10 per pass.
// Each invocation loads 4 values at a stride of 256 (neighbouring invocations read
// neighbouring addresses: coalesced), adds them as a pair of pairs (depth 2), and the
// workgroup halves its 256 partial sums 8 times in shared memory (depth 8). Blocks beyond
// 65535 use a 2-D grid folded back as wg.y·groups.x + wg.x; surplus workgroups return.

struct Params {
  n: u32,
  blocks: u32,
  outOffset: u32,
  scale: f32,
}

override SQUARE: bool = false;
override HAS_DIVISOR: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> divisor: array<f32>;

const THREADS: u32 = 256u;
const PER_THREAD: u32 = 4u;
const BLOCK: u32 = 1024u; // THREADS · PER_THREAD

var<workgroup> partial: array<f32, 256>;

fn term(index: u32) -> f32 {
  if (index >= params.n) {
    return 0.0;
  }
  let v = x[index];
  if (SQUARE) {
    return v * v;
  }
  return v;
}

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let block = wg.y * groups.x + wg.x;
  if (block >= params.blocks) {
    return; // surplus workgroup of a folded grid (uniform: depends on the workgroup only)
  }
  let base = block * BLOCK + lid;
  let pairA = term(base) + term(base + THREADS);
  let pairB = term(base + 2u * THREADS) + term(base + 3u * THREADS);
  partial[lid] = pairA + pairB;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      partial[lid] = partial[lid] + partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var total = partial[0] * params.scale;
    if (HAS_DIVISOR) {
      total = total / divisor[0];
    }
    out[params.outOffset + block] = total;
  }
}
