/**
 * The step profile's roofline (`npm run bench -- --suite profile`): a MODELED GPU time per
 * dispatch from its cost (FLOPs, bytes; src/gpu/dispatch.ts) and its workgroup count, for a
 * GPU named by an adapter profile. Not a measurement: it says what the step's structure
 * (dispatch count, workgroups per dispatch, bytes moved) costs on that GPU under the
 * assumptions below, so that a change of structure shows without the GPU.
 *
 * Per dispatch:  max(FLOPs / flopRate, bytes / bandwidth) / fill  +  dispatchOverhead
 * where fill = min(1, workgroups / computeUnits): a dispatch of fewer workgroups than the GPU
 * has compute units (SMs) runs on that many units only, each at 1/computeUnits of the rate.
 */
import type { AdapterProfileName } from '../src/gpu/adapterProfiles';
import type { PreparedDispatch } from '../src/gpu/dispatch';

export interface RooflineGpu {
  name: string;
  /** Units that each run a workgroup at a time (NVIDIA SMs, Apple GPU cores, Intel subslices). */
  computeUnits: number;
  /** Vendor f32 peak (FMA = 2 FLOPs), FLOP/s. */
  vendorPeakFlops: number;
  /** The f32 rate the model charges every FLOP at, FLOP/s: no better than measured. */
  modeledFlops: number;
  /** DRAM bandwidth, bytes/s (vendor figure; the model charges bytes at this rate). */
  bandwidth: number;
  /** Seconds charged per dispatch: launch plus the barrier between dependent dispatches. */
  dispatchOverhead: number;
  /** Where each figure comes from. */
  sources: string[];
}

/**
 * THE data table of the model. Every figure with its source; change a figure here only.
 * m2 and xe are from vendor specifications, not probed or measured by this project.
 */
export const ROOFLINE_GPUS: Partial<Record<AdapterProfileName, RooflineGpu>> = {
  h100: {
    name: 'NVIDIA H100 SXM5 80GB HBM3',
    computeUnits: 132,
    vendorPeakFlops: 67e12,
    modeledFlops: 28e12,
    bandwidth: 3.35e12,
    dispatchOverhead: 4e-6,
    sources: [
      'SMs, f32 peak 67 TFLOP/s, HBM3 3.35 TB/s: NVIDIA H100 Tensor Core GPU datasheet (SXM5)',
      'modeled f32 rate 28 TFLOP/s: a simple 64×64-tiled f32 WGSL matmul measured on the lent H100 through Dawn/Vulkan at 4096³–8192³ (../shared/device/README.md); this project measured nothing faster on an H100',
      'dispatch overhead 4 µs: assumed (launch + the barrier between dependent dispatches in one compute pass); not measured here',
    ],
  },
  m2: {
    name: 'Apple M2 (10-core GPU)',
    computeUnits: 10,
    vendorPeakFlops: 3.6e12,
    modeledFlops: 3.6e12 * (28 / 67),
    bandwidth: 100e9,
    dispatchOverhead: 10e-6,
    sources: [
      'GPU cores, f32 peak 3.6 TFLOP/s, 100 GB/s unified memory: Apple M2 vendor specification (not probed by this project)',
      'modeled f32 rate: the vendor peak × 28/67, the fraction of peak the simple tiled matmul reached on the H100 (assumed to carry over; nothing measured on Apple)',
      'dispatch overhead 10 µs: assumed, not measured',
    ],
  },
  xe: {
    name: 'Intel Iris Xe (96 EU)',
    computeUnits: 6,
    vendorPeakFlops: 2.1e12,
    modeledFlops: 2.1e12 * (28 / 67),
    bandwidth: 68e9,
    dispatchOverhead: 10e-6,
    sources: [
      '96 EUs in 6 subslices (a workgroup runs in one subslice), f32 peak ≈ 2.1 TFLOP/s at 1.35 GHz, LPDDR4x-4266 68 GB/s: Intel vendor specification (not probed by this project)',
      'modeled f32 rate: the vendor peak × 28/67, as for m2 (assumed; nothing measured on Intel)',
      'dispatch overhead 10 µs: assumed, not measured',
    ],
  },
};

/** The assumptions every modeled figure rests on (printed with it). */
export const ROOFLINE_ASSUMPTIONS = [
  'modeled, not measured: per dispatch max(FLOPs / modeledFlops, bytes / bandwidth) / fill + dispatchOverhead, summed over the step (dispatches run one after another, as in one compute pass with barriers)',
  'fill = min(1, workgroups / computeUnits): a dispatch with fewer workgroups than compute units uses only that many units, each at 1/computeUnits of the rate and bandwidth',
  'every FLOP at modeledFlops (matmul, attention and elementwise alike); bytes at the vendor bandwidth (optimistic: no kernel reaches it)',
  "FLOPs and bytes are each dispatch's declared cost: each input and output value counted once (cache re-reads free); attention counts the full T×T",
];

export interface ModeledDispatch {
  /** Modeled seconds. */
  seconds: number;
  bound: 'compute' | 'memory';
  fill: number;
}

export function modelDispatch(gpu: RooflineGpu, d: PreparedDispatch): ModeledDispatch {
  const cost = d.cost ?? { flops: 0, bytesRead: 0, bytesWritten: 0 };
  const workgroups = d.workgroups[0] * d.workgroups[1] * d.workgroups[2];
  if (workgroups === 0) return { seconds: 0, bound: 'memory', fill: 0 };
  const fill = Math.min(1, workgroups / gpu.computeUnits);
  const compute = cost.flops / gpu.modeledFlops;
  const memory = (cost.bytesRead + cost.bytesWritten) / gpu.bandwidth;
  return {
    seconds: Math.max(compute, memory) / fill + gpu.dispatchOverhead,
    bound: compute >= memory ? 'compute' : 'memory',
    fill,
  };
}
