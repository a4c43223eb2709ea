// `npm run paper -- [flags]`: bundles src/cli/paper.node.ts (with the benchmarks, one esbuild
// run) into .gpu/paper.mjs and runs it with Node through Dawn. See `npm run paper -- --help`.
import { spawn } from 'node:child_process';
import { bundleBench, root, paperPath } from './bundle-gpu.mjs';
import { gpuEnvironment } from './gpu-env.mjs';

const env = gpuEnvironment('paper');
await bundleBench({ quiet: true });
const child = spawn(process.execPath, [paperPath, ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
child.on('error', (error) => {
  console.error(`paper: could not start node: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) console.error(`paper: killed by ${signal}`);
  process.exit(code ?? 1);
});
