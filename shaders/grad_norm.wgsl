// Last step of global gradient-norm clipping (torch.nn.utils.clip_grad_norm_):
//   norm      = sqrt(S),  S = Σ over all gradient tensors of Σ g²  (S computed beforehand:
//               grad_norm_partials.wgsl writes a sum of squares per block of ≤ 1024 values of
//               each tensor — one dispatch per gradient arena buffer — then reduce_sum.wgsl
//               sums the partials as a tree; see src/kernels/gradNorm.ts)
//   clipScale = min(1, maxNorm / (norm + 1e-6))        when norm is finite,
//   clipScale = norm (NaN or ±Inf)                      otherwise,
// and, with COUNT_NON_FINITE, nonFiniteSteps[0] += 1 for a non-finite norm. With
// HALT_AFTER_NON_FINITE as well, a finite norm after a counted step still gets a NaN clip
// scale: once a step went bad every later update is skipped too, so a training step already
// queued behind the bad one (the pipelined loop reads results one step late) cannot move the
// parameters the run stops with.
// AdamW multiplies each gradient by clipScale and skips the whole update when clipScale is
// not finite, so a NaN/Inf gradient leaves the parameters untouched instead of poisoning
// them; the counter (read whenever convenient) says how many steps were skipped.
//
// One invocation: the work is a handful of scalar operations. Finiteness is tested on the
// bit pattern (exponent all ones) because WGSL lets compilers assume floats are never NaN
// or Inf, and they do fold `x != x` to false.

struct Params {
  maxNorm: f32,
  epsilon: f32,
  _pad0: u32,
  _pad1: u32,
}

override COUNT_NON_FINITE: bool = false;
override HALT_AFTER_NON_FINITE: bool = false;

// #include "quiet_nan.wgsl"

@group(0) @binding(0) var<storage, read> sumOfSquares: array<f32>;
@group(0) @binding(1) var<storage, read_write> norm: array<f32>;
@group(0) @binding(2) var<storage, read_write> clipScale: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read_write> nonFiniteSteps: array<u32>;

fn isFiniteBits(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(1, 1, 1)
fn main() {
  let total = sqrt(sumOfSquares[0]);
  norm[0] = total;
  if (isFiniteBits(total)) {
    if (HALT_AFTER_NON_FINITE && nonFiniteSteps[0] != 0u) {
      clipScale[0] = quietNaN();
    } else {
      clipScale[0] = min(1.0, params.maxNorm / (total + params.epsilon));
    }
  } else {
    clipScale[0] = total;
    if (COUNT_NON_FINITE) {
      nonFiniteSteps[0] = nonFiniteSteps[0] + 1u;
    }
  }
}
