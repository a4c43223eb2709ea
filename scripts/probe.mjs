// `npm run probe -- [flags]`: bundles src/cli/probe.node.ts (with the benchmarks, one esbuild
// run) into .gpu/probe.mjs and runs it with Node through Dawn. See `npm run probe -- --help`.
import { spawn } from 'node:child_process';
import { bundleBench, root, probePath } from './bundle-gpu.mjs';
import { gpuEnvironment } from './gpu-env.mjs';

const env = gpuEnvironment('probe');
await bundleBench({ quiet: true });
const child = spawn(process.execPath, [probePath, ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
child.on('error', (error) => {
  console.error(`probe: could not start node: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) console.error(`probe: killed by ${signal}`);
  process.exit(code ?? 1);
});
