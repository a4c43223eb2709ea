// The first half of batch augmentation on the GPU: the horizontal pass of PIL's separable
// bicubic resize (src/data/resize.ts resizeBicubic) for every row of each image's crop.
//   rows[b, r, x] = clip8(2^21 + Σ_k w[x, k] · image[b][srcTop + r, srcLeft + first[x] + k])
// per channel, in i32 exactly as PIL's int32 loop (no overflow for 8-bit input), packed RGB.
// x runs over the S output columns outLeft…outLeft+S−1 of the resized image; rows past the
// crop's height are left alone (augment_cols never reads them). A size-preserving table is
// the identity (weights 0, 2^22, 0, …), so PIL's skipped pass needs no special case.
//
// Layout: flat (flat_index.wgsl), one invocation per (b, r, x), x fastest. The stored images
// live in up to four chunk buffers (a dataset above one binding's limit); each record names
// its chunk, and bytes are unpacked from u32 words.

// #include "flat_index.wgsl"
// #include "augment_common.wgsl"

@group(0) @binding(0) var<storage, read> chunk0: array<u32>;
@group(0) @binding(1) var<storage, read> chunk1: array<u32>;
@group(0) @binding(2) var<storage, read> chunk2: array<u32>;
@group(0) @binding(3) var<storage, read> chunk3: array<u32>;
@group(0) @binding(4) var<storage, read> samples: array<u32>;
@group(0) @binding(5) var<storage, read> coefficients: array<i32>;
@group(0) @binding(6) var<storage, read_write> rows: array<u32>;
@group(0) @binding(7) var<uniform> params: AugmentParams;

fn imageByte(chunk: u32, byteIndex: u32) -> i32 {
  let word = byteIndex >> 2u;
  var w: u32;
  switch chunk {
    case 0u: {
      w = chunk0[word];
    }
    case 1u: {
      w = chunk1[word];
    }
    case 2u: {
      w = chunk2[word];
    }
    default: {
      w = chunk3[word];
    }
  }
  return i32((w >> ((byteIndex & 3u) * 8u)) & 255u);
}

@compute @workgroup_size(FLAT_WORKGROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let o = flatIndex(wg, groups, lid);
  let S = params.size;
  if (o >= params.batch * params.height * S) {
    return;
  }
  let x = o % S;
  let r = (o / S) % params.height;
  let b = o / (S * params.height);
  let s = b * SAMPLE_WORDS;
  if (r >= samples[s + 4u]) {
    return;
  }
  let chunk = samples[s];
  let taps = samples[s + 6u];
  let entry = i32(samples[s + 5u] + (samples[s + 10u] + x) * (2u + taps));
  let first = u32(coefficients[entry]);
  let count = u32(coefficients[entry + 1]);
  let row = samples[s + 2u] + r;
  let start = samples[s + 1u] + (row * params.width + samples[s + 3u] + first) * 3u;
  var acc = vec3<i32>(HALF);
  for (var k = 0u; k < count; k++) {
    let w = coefficients[entry + 2 + i32(k)];
    let p = start + 3u * k;
    acc += vec3<i32>(imageByte(chunk, p), imageByte(chunk, p + 1u), imageByte(chunk, p + 2u)) * w;
  }
  rows[o] = packRgb(clip8(acc));
}
