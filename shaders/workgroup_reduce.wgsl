// Workgroup-wide reductions over one f32 per invocation, for kernels whose THREADS (a
// power of two, a const or an override of the including shader) invocations each hold a
// partial value: a shared-memory tree, log2(THREADS) barriers. Every invocation gets the
// result. The summation order is fixed (stride THREADS/2, then /4, …), so results are the
// same bits run after run.
//
// Every invocation of the workgroup must call these together (uniform control flow).

var<workgroup> reducePartial: array<f32, THREADS>;

// The sum of every invocation's `value`, returned to all of them.
fn workgroupSum(lid: u32, value: f32) -> f32 {
  reducePartial[lid] = value;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      reducePartial[lid] = reducePartial[lid] + reducePartial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = reducePartial[0];
  // Nobody may overwrite reducePartial[0] (the next reduction) before everyone has read it.
  workgroupBarrier();
  return total;
}

// The largest of every invocation's `value`, returned to all of them.
fn workgroupMax(lid: u32, value: f32) -> f32 {
  reducePartial[lid] = value;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      reducePartial[lid] = max(reducePartial[lid], reducePartial[lid + stride]);
    }
    workgroupBarrier();
  }
  let largest = reducePartial[0];
  workgroupBarrier();
  return largest;
}
