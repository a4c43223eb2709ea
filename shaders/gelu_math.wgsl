// GELU in its exact erf form, as ml-aim uses (torch.nn.GELU(approximate='none')):
//   gelu(x) = x·Φ(x) = ½·x·erfc(−x/√2),   gelu'(x) = Φ(x) + x·φ(x).
// Included (`// #include "gelu_math.wgsl"`) by every kernel that applies GELU, so the
// forward and the backward use one definition.
//
// WGSL has no erf. erfc_approx is the Chebyshev fit of Numerical Recipes (erfcc): fractional
// error < 1.2e-7 for every x in exact arithmetic. In f32 the exp of an argument near −z²
// adds error growing with z² (WGSL allows exp 3 + 2|x| ULP): measured on SwiftShader, 8e-7
// relative for |x| ≤ 2 and 6e-6 at |x| = 6, where erfc (and so GELU's deviation from x or
// 0) is below 1e-16 — negligible for GELU (test/gelu.test.ts bounds it). Going through erfc
// avoids the cancellation of 1 + erf(x) for negative x.

fn erfc_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277))))))));
  let r = t * exp(poly);
  return select(2.0 - r, r, x >= 0.0);
}

const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

fn gelu(x: f32) -> f32 {
  return 0.5 * x * erfc_approx(-x * INV_SQRT2);
}

fn gelu_grad(x: f32) -> f32 {
  let cdf = 0.5 * erfc_approx(-x * INV_SQRT2);
  return cdf + x * INV_SQRT_2PI * exp(-0.5 * x * x);
}
