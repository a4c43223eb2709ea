// The second half of batch augmentation on the GPU: the vertical pass of PIL's bicubic
// resize over augment_rows' output, the horizontal flip, and torchvision's ToTensor +
// Normalize(ImageNet mean, std) into the model's NCHW input:
//   v = clip8(2^21 + Σ_k w[y, k] · rows[b, first[y] + k, x'])   x' = S−1−x if flipped, else x
//   out[b, c, y, x] = normalisation[c·256 + v_c]
// The normalisation is a 768-entry table computed on the CPU in float32 exactly as torch
// does (src/data/batch.ts), so the output equals the CPU batch bit for bit.
//
// Layout: flat (flat_index.wgsl), one invocation per output pixel (b, y, x), x fastest;
// each writes its three channel planes.

// #include "flat_index.wgsl"
// #include "augment_common.wgsl"

@group(0) @binding(0) var<storage, read> samples: array<u32>;
@group(0) @binding(1) var<storage, read> coefficients: array<i32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read> normalisation: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> params: AugmentParams;

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let o = flatIndex(wg, groups, lid);
  let S = params.size;
  let plane = S * S;
  if (o >= params.batch * plane) {
    return;
  }
  let x = o % S;
  let y = (o / S) % S;
  let b = o / plane;
  let s = b * SAMPLE_WORDS;
  let column = select(x, S - 1u - x, samples[s + 11u] == 1u);
  let taps = samples[s + 8u];
  let entry = i32(samples[s + 7u] + (samples[s + 9u] + y) * (2u + taps));
  let first = u32(coefficients[entry]);
  let count = u32(coefficients[entry + 1]);
  let base = b * params.height * S + column;
  var acc = vec3<i32>(HALF);
  for (var k = 0u; k < count; k++) {
    acc += unpackRgb(rows[base + (first + k) * S]) * coefficients[entry + 2 + i32(k)];
  }
  let v = clip8(acc);
  let at = b * 3u * plane + y * S + x;
  out[at] = normalisation[v.x];
  out[at + plane] = normalisation[256u + v.y];
  out[at + 2u * plane] = normalisation[512u + v.z];
}
