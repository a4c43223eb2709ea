// `npm run bench [-- flags]`: bundles bench/main.ts into .gpu/bench.mjs and runs it with Node.
// Without a GPU driver (no /dev/nvidia*, no /dev/dri/renderD*) and with VK_ICD_FILENAMES
// unset, Chromium's SwiftShader Vulkan ICD is used, so the numbers are CPU emulation;
// AIM_USE_SYSTEM_VULKAN=1 leaves the Vulkan loader's own choice alone.
import { spawn } from 'node:child_process';
import { bundleBench, bundlePath, root } from './bundle-gpu.mjs';
import { gpuEnvironment, SWIFTSHADER_ICD } from './gpu-env.mjs';

const EXIT_NO_ADAPTER = 2;
const env = gpuEnvironment('bench');

await bundleBench({ quiet: true });
const child = spawn(process.execPath, [bundlePath, ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
child.on('error', (error) => {
  console.error(`bench: could not start node: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (code === EXIT_NO_ADAPTER) {
    console.error(
      'bench: no WebGPU adapter, nothing was measured. Install a Vulkan driver, or Chromium ' +
        `(for ${SWIFTSHADER_ICD}), or set VK_ICD_FILENAMES to a Vulkan ICD JSON file.`,
    );
  } else if (signal) {
    console.error(`bench: benchmark process killed by ${signal}`);
  }
  process.exit(code ?? 1);
});
