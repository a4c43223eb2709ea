// The fused epilogue of a matmul output, shared by matmul.wgsl (applied to a tile's
// accumulators) and matmul_split_k_reduce.wgsl (applied to the sum of the split-K partials),
// so the two paths apply one definition. Order (each an override constant of the including
// kernel, so unused steps cost nothing):
//   HAS_BIAS      v += bias[col]
//   ACTIVATION 1  aux = v; v = gelu(v)          (forward fc1: aux keeps the pre-activation)
//   ACTIVATION 2  v *= gelu'(aux)                (backward through GELU)
//   ADD_RESIDUAL  v += residual[i]               (x + f(x) into a new buffer)
//   ACCUMULATE    v += C[i]                      (gradient accumulation)
// The including kernel declares those constants and the bindings bias, residual, aux and C.

// #include "gelu_math.wgsl"

fn matmulEpilogue(product: f32, index: u32, col: u32) -> f32 {
  var v = product;
  if (HAS_BIAS) {
    v = v + bias[col];
  }
  if (ACTIVATION == 1u) {
    aux[index] = v;
    v = gelu(v);
  } else if (ACTIVATION == 2u) {
    v = v * gelu_grad(aux[index]);
  }
  if (ADD_RESIDUAL) {
    v = v + residual[index];
  }
  if (ACCUMULATE) {
    v = v + C[index];
  }
  return v;
}
