// The NaN that kernels write for an out-of-range index, so the bug is visible downstream.

// A NaN made at run time: as a constant expression bitcast<f32>(0x7fc00000u) is a shader-
// creation error, so the bits go through a variable. (WGSL lets an implementation treat NaNs
// as indeterminate; GPUs pass the bits through, and the tests check that.)
fn quietNaN() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}
