// `npm run train -- [flags]`: bundles src/cli/train.node.ts (with the benchmarks, one esbuild
// run) into .gpu/train.mjs and runs it with Node through Dawn. See `npm run train -- --help`.
import { spawn } from 'node:child_process';
import { bundleBench, root, trainPath } from './bundle-gpu.mjs';
import { gpuEnvironment } from './gpu-env.mjs';

const env = gpuEnvironment('train');
await bundleBench({ quiet: true });
const child = spawn(process.execPath, [trainPath, ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
child.on('error', (error) => {
  console.error(`train: could not start node: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) console.error(`train: killed by ${signal}`);
  process.exit(code ?? 1);
});
