// Softmax cross-entropy of the probes' logits [B, C] against integer labels [B], mean over
// the batch (torch.nn.functional.cross_entropy, reduction 'mean'), and its gradient:
//   loss_b   = logsumexp(logits[b]) − logits[b, label_b]
//   loss[0]  = Σ_b loss_b / B;   loss[1] += loss[0]   (a running sum the trainer reads once
//                                                       per epoch instead of every step)
//   dlogits[b, c] = (softmax(logits[b])[c] − [c = label_b]) / B
// A label ≥ C is a caller error (the wrapper's data are checked on the CPU).
//
// Layout: one workgroup; THREADS invocations stride over the samples, each walking its
// sample's C classes (C is a probe's class count, small); the batch sum is a shared-memory
// tree reduction, so one dispatch serves any B without float atomics.

struct Params {
  batch: u32,
  classes: u32,
  _pad0: u32,
  _pad1: u32,
}

const THREADS: u32 = 256u;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// #include "workgroup_reduce.wgsl"

@compute @workgroup_size(THREADS)
fn main(@builtin(local_invocation_index) lid: u32) {
  let C = params.classes;
  let invB = 1.0 / f32(params.batch);
  var total = 0.0;
  for (var b = lid; b < params.batch; b = b + THREADS) {
    let row = b * C;
    var m = logits[row];
    for (var c = 1u; c < C; c = c + 1u) {
      m = max(m, logits[row + c]);
    }
    var sum = 0.0;
    for (var c = 0u; c < C; c = c + 1u) {
      sum = sum + exp(logits[row + c] - m);
    }
    let label = labels[b];
    total = total + (m + log(sum) - logits[row + label]);
    let inv = 1.0 / sum;
    for (var c = 0u; c < C; c = c + 1u) {
      var g = exp(logits[row + c] - m) * inv;
      if (c == label) {
        g = g - 1.0;
      }
      dlogits[row + c] = g * invB;
    }
  }
  let sum = workgroupSum(lid, total);
  if (lid == 0u) {
    let mean = sum * invB;
    loss[0] = mean;
    loss[1] = loss[1] + mean;
  }
}
