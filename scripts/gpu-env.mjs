// The environment for running WebGPU programs in Node (benchmarks, headless training):
// without a GPU driver (no /dev/nvidia*, no /dev/dri/renderD*) and with VK_ICD_FILENAMES
// unset, Chromium's SwiftShader Vulkan ICD is used, so results are CPU emulation;
// AIM_USE_SYSTEM_VULKAN=1 leaves the Vulkan loader's own choice alone.
import { existsSync, readdirSync } from 'node:fs';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

function hasGpuDeviceNode() {
  if (existsSync('/dev/nvidia0')) return true;
  try {
    return readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** A copy of process.env with VK_ICD_FILENAMES pointed at SwiftShader when there is no GPU. */
export function gpuEnvironment(tool) {
  const env = { ...process.env };
  const chosenByUser =
    env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || env.AIM_USE_SYSTEM_VULKAN === '1';
  if (!chosenByUser && !hasGpuDeviceNode()) {
    if (existsSync(SWIFTSHADER_ICD)) {
      env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      console.error(
        `${tool}: no GPU device found; using SwiftShader (CPU) via VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`,
      );
    } else {
      console.error(
        `${tool}: no GPU device found and no SwiftShader ICD; trying the system Vulkan drivers`,
      );
    }
  }
  return env;
}
