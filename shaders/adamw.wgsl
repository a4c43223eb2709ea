// One AdamW step (torch.optim.AdamW, amsgrad=False, maximize=False) on many ranges of
// parameter tensors at once, elementwise, in torch's order of operations:
//   g  = grad · clipScale                        (HAS_CLIP_SCALE; the global-norm clip factor)
//   p  = p · (1 − lr·wd)                         (decoupled weight decay, before the update)
//   m  = m + (1 − β1)·(g − m)                    (torch: exp_avg.lerp_(grad, 1 − β1))
//   v  = β2·v + (1 − β2)·g·g                     (exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2))
//   d  = sqrt(v) / sqrt(1 − β2^t) + eps          (denom)
//   p  = p − (lr / (1 − β1^t)) · m / d           (param.addcdiv_(m, d, value=−step_size))
// The step-dependent scalars (lr, step_size, sqrt(1 − β2^t)) live in one uniform buffer
// rewritten once per step (writeAdamWStep), so the bind groups are built once.
// If the clip scale is NaN/Inf (grad_norm.wgsl writes the non-finite norm there when a
// gradient held NaN/Inf) the update is skipped: p, m and v keep their values, as a
// GradScaler would do, rather than torch's NaN-everything.
//
// Multi-tensor: param, grad, expAvg and expAvgSq are four buffers with the same layout (the
// parameter, gradient and moment arenas of src/model/allocation.ts, or four tensors of their
// own), and a table lists blocks of at most BLOCK = 4·FLAT_WORKGROUP values, each inside one
// range of one tensor: (first value, count, weight decay). One workgroup per block, so the
// whole model is one dispatch per arena buffer, and each range keeps its own decay (0 for
// biases, norms and positions). Each invocation updates the values lid, lid + FLAT_WORKGROUP,
// … of its block (neighbouring invocations, neighbouring addresses). A value depends on
// nothing else, so no shared memory; the arithmetic is the per-tensor kernel's, value by value.
// Blocks beyond 65535 use a 2-D grid folded back as wg.y·groups.x + wg.x.

struct StepParams {
  lr: f32,
  stepSize: f32, // lr / (1 − β1^t)
  biasCorrection2Sqrt: f32, // sqrt(1 − β2^t)
  eps: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  _pad: u32,
}

struct Block {
  start: u32,
  count: u32,
  weightDecay: f32,
  _pad: u32,
}

override HAS_CLIP_SCALE: bool = false;

// #include "flat_index.wgsl"

const PER_THREAD: u32 = 4u;

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> expAvg: array<f32>;
@group(0) @binding(3) var<storage, read_write> expAvgSq: array<f32>;
@group(0) @binding(4) var<uniform> stepParams: StepParams;
@group(0) @binding(5) var<storage, read> blocks: array<Block>;
@group(0) @binding(6) var<storage, read> clipScale: array<f32>;

fn isFiniteBits(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

fn update(i: u32, weightDecay: f32, scale: f32) {
  var g = grad[i];
  if (HAS_CLIP_SCALE) {
    g = g * scale;
  }
  let p = param[i] * (1.0 - stepParams.lr * weightDecay);
  let m = expAvg[i] + stepParams.oneMinusBeta1 * (g - expAvg[i]);
  let v = stepParams.beta2 * expAvgSq[i] + stepParams.oneMinusBeta2 * g * g;
  let denom = sqrt(v) / stepParams.biasCorrection2Sqrt + stepParams.eps;
  expAvg[i] = m;
  expAvgSq[i] = v;
  param[i] = p - stepParams.stepSize * m / denom;
}

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  // flatIndex of the workgroup's first invocation, in blocks.
  let index = flatIndex(wg, groups, 0u) / FLAT_WORKGROUP;
  if (index >= arrayLength(&blocks)) {
    return;
  }
  var scale = 1.0;
  if (HAS_CLIP_SCALE) {
    scale = clipScale[0];
    if (!isFiniteBits(scale)) {
      return;
    }
  }
  let block = blocks[index];
  for (var k = 0u; k < PER_THREAD; k = k + 1u) {
    let local = lid + k * FLAT_WORKGROUP;
    if (local < block.count) {
      update(block.start + local, block.weightDecay, scale);
    }
  }
}
