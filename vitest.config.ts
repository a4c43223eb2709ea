import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Kernel tests run real WGSL through Dawn for Node. On a machine without a GPU driver,
// Chromium's SwiftShader Vulkan ICD is the adapter (scripts/test.mjs installs Chromium).
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const env: Record<string, string> = {};
if (
  !process.env.VK_ICD_FILENAMES &&
  !process.env.AIM_USE_SYSTEM_VULKAN &&
  existsSync(SWIFTSHADER_ICD)
) {
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    environment: 'node',
    env,
    // Dawn's native addon is happiest with one device per process: run files in forked
    // processes, two at a time (the CI machine has two cores).
    pool: 'forks',
    maxWorkers: 2,
    // SwiftShader is slow and CI has two cores: generous limits, so only a real hang fails.
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
