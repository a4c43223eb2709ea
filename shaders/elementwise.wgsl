// Elementwise f32 operations over flat buffers of `n` values, for the small steps of a
// training step that are not fused into a matmul epilogue:
//   OP 0  add             y = x + b          (residual add into a new buffer)
//   OP 1  accumulate      y = y + alpha·x    (gradient accumulation; alpha = 1 is exact)
//   OP 2  scale           y = alpha·x
//   OP 3  scale in place  y = alpha·y        (gradient clipping, loss scaling)
//   OP 4  fill            y = alpha          (zeroing accumulators inside a recorded pass)
// OP is an override constant, so each variant compiles to its one line. Every binding is
// referenced by `main` whatever OP is (auto layouts keep all of them); a variant that ignores
// x or b gets a placeholder buffer there.
//
// Layout: one invocation per value (flat_index.wgsl); invocations past n do nothing.

// #include "flat_index.wgsl"

struct Params {
  n: u32,
  alpha: f32,
  _pad0: u32,
  _pad1: u32,
}

override OP: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> b: array<f32>;

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = flatIndex(wg, groups, lid);
  if (i >= params.n) {
    return;
  }
  switch OP {
    case 0u: {
      y[i] = x[i] + b[i];
    }
    case 1u: {
      y[i] = y[i] + params.alpha * x[i];
    }
    case 2u: {
      y[i] = params.alpha * x[i];
    }
    case 3u: {
      y[i] = params.alpha * y[i];
    }
    default: {
      y[i] = params.alpha;
    }
  }
}
