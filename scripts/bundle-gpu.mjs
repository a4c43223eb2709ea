// Bundles the benchmark into one-file ESM programs for Node under .gpu/:
//   .gpu/bench.mjs    bench/main.ts (tfjs inside): the WGSL (and tfjs) measurements;
//   .gpu/compare.mjs  bench/compare.ts: joins its output with bench/torch_bench.py's;
//   .gpu/train.mjs    src/cli/train.node.ts: headless training (`npm run train`);
//   .gpu/probe.mjs    src/cli/probe.node.ts: probes on a checkpoint (`npm run probe`);
//   .gpu/paper.mjs    src/cli/paper.node.ts: the paper's tables at tiny scale (`npm run paper`);
//   .gpu/export.mjs   src/cli/export.node.ts: `npm run export` (e.g. --random aim-7B), so a
//                     GPU machine makes its own random-weight models instead of receiving GBs;
//   .gpu/onnx-infer.mjs  bench/onnx_infer.ts: times a model in onnxruntime-node (WebGPU EP).
// Only the native packages stay external: `webgpu` (on a bare GPU machine from
// .gpu/node_modules, filled by ../shared/device/prepare.sh) and `onnxruntime-node`. Run as a
// script, this also packs onnxruntime-node (its Linux x64 binaries, dist and
// onnxruntime-common, ≈ 13 MiB with xz) into .gpu/onnxruntime-node.tar.xz, unpacked on the
// GPU machine with `tar -xJf .gpu/onnxruntime-node.tar.xz -C .gpu/node_modules`; the packed
// files would be 48 MB, most of the 64 MiB a device call carries.
// Shaders are read at run time from ./shaders under the working directory (run from the root).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const bundleDir = join(root, '.gpu');
export const bundlePath = join(bundleDir, 'bench.mjs');
export const comparePath = join(bundleDir, 'compare.mjs');
export const trainPath = join(bundleDir, 'train.mjs');
export const paperPath = join(bundleDir, 'paper.mjs');
export const probePath = join(bundleDir, 'probe.mjs');
export const exportPath = join(bundleDir, 'export.mjs');
export const onnxInferPath = join(bundleDir, 'onnx-infer.mjs');
export const onnxruntimeArchive = join(bundleDir, 'onnxruntime-node.tar.xz');

export async function bundleBench({ quiet = false } = {}) {
  mkdirSync(bundleDir, { recursive: true });
  const result = await build({
    entryPoints: {
      bench: join(root, 'bench', 'main.ts'),
      compare: join(root, 'bench', 'compare.ts'),
      train: join(root, 'src', 'cli', 'train.node.ts'),
      paper: join(root, 'src', 'cli', 'paper.node.ts'),
      probe: join(root, 'src', 'cli', 'probe.node.ts'),
      export: join(root, 'src', 'cli', 'export.node.ts'),
      'onnx-infer': join(root, 'bench', 'onnx_infer.ts'),
    },
    outdir: bundleDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu', 'onnxruntime-node'],
    // tfjs is CommonJS and calls require() for Node built-ins; give the ESM bundle a real one.
    banner: {
      js: "import { createRequire as __aimCreateRequire } from 'node:module';\nconst require = __aimCreateRequire(import.meta.url);",
    },
    logLevel: quiet ? 'error' : 'warning',
    legalComments: 'none',
  });
  if (!quiet) {
    for (const path of [bundlePath, comparePath, trainPath, paperPath, exportPath, onnxInferPath])
      console.error(`bundled ${relative(process.cwd(), path) || path}`);
  }
  return result;
}

/**
 * onnxruntime-node for a bare Linux x64 machine: what its dist/index.js loads at run time
 * (dist, the napi-v6 linux/x64 binding with libonnxruntime, which carries the WebGPU EP and
 * its Dawn) and onnxruntime-common. Skipped when the archive is newer than the binaries.
 */
export function packOnnxruntimeNode({ quiet = false } = {}) {
  const require = createRequire(join(root, 'package.json'));
  const ortDir = dirname(require.resolve('onnxruntime-node/package.json'));
  // onnxruntime-common's `exports` hide its package.json: find it above its entry point.
  let commonDir = dirname(
    createRequire(join(ortDir, 'package.json')).resolve('onnxruntime-common'),
  );
  const isCommon = (dir) =>
    existsSync(join(dir, 'package.json')) &&
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'onnxruntime-common';
  while (!isCommon(commonDir)) {
    if (dirname(commonDir) === commonDir) throw new Error('onnxruntime-common not found');
    commonDir = dirname(commonDir);
  }
  const binaries = join('bin', 'napi-v6', 'linux', 'x64');
  const newest = Math.max(
    ...['libonnxruntime.so.1', 'onnxruntime_binding.node'].map(
      (f) => statSync(join(ortDir, binaries, f)).mtimeMs,
    ),
  );
  if (existsSync(onnxruntimeArchive) && statSync(onnxruntimeArchive).mtimeMs > newest) return;
  mkdirSync(bundleDir, { recursive: true });
  const version = JSON.parse(readFileSync(join(ortDir, 'package.json'), 'utf8')).version;
  const tar = onnxruntimeArchive.replace(/\.xz$/, '');
  const common = basename(commonDir);
  rmSync(tar, { force: true });
  execFileSync('tar', [
    ...['-cf', tar, '-C', dirname(ortDir)],
    ...['onnxruntime-node/package.json', 'onnxruntime-node/dist', `onnxruntime-node/${binaries}`],
    ...['-C', dirname(commonDir), `${common}/package.json`, `${common}/dist`],
  ]);
  execFileSync('xz', ['-T0', '-6', '-f', tar]); // replaces the .tar with the .tar.xz
  if (!quiet) {
    const mib = (statSync(onnxruntimeArchive).size / 2 ** 20).toFixed(1);
    console.error(
      `packed onnxruntime-node ${version} into ${relative(process.cwd(), onnxruntimeArchive)} (${mib} MiB)`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  bundleBench()
    .then(() => packOnnxruntimeNode())
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
