// The layout every flat kernel shares: one invocation per value, FLAT_WORKGROUP invocations
// per workgroup, in buffer order. Buffers of more than 65535·FLAT_WORKGROUP values need more
// workgroups than one grid dimension allows, so the wrapper (`flatGridFor`) spreads them over
// a 2-D grid and `flatIndex` folds (wg.x, wg.y) back into one workgroup index; invocations
// past the end must return.
//
// Included (`// #include "flat_index.wgsl"`) by each flat kernel. FLAT_WORKGROUP has no
// default: every pipeline gets it from FLAT_WORKGROUP in src/kernels/flat.ts, its one source.

override FLAT_WORKGROUP: u32;

fn flatIndex(wg: vec3<u32>, groups: vec3<u32>, lid: u32) -> u32 {
  return (wg.y * groups.x + wg.x) * FLAT_WORKGROUP + lid;
}
