// Bundles the benchmark into one-file ESM programs for Node under .gpu/:
//   .gpu/bench.mjs    bench/main.ts (tfjs inside): the WGSL (and tfjs) measurements;
//   .gpu/compare.mjs  bench/compare.ts: joins its output with bench/torch_bench.py's;
//   .gpu/train.mjs    src/cli/train.node.ts: headless training (`npm run train`).
// Only the native `webgpu` package stays external: on a bare GPU machine it comes from
// .gpu/node_modules (filled by ../shared/device/prepare.sh), here from node_modules.
// Shaders are read at run time from ./shaders under the working directory (run from the root).
import { mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const bundleDir = join(root, '.gpu');
export const bundlePath = join(bundleDir, 'bench.mjs');
export const comparePath = join(bundleDir, 'compare.mjs');
export const trainPath = join(bundleDir, 'train.mjs');

export async function bundleBench({ quiet = false } = {}) {
  mkdirSync(bundleDir, { recursive: true });
  const result = await build({
    entryPoints: {
      bench: join(root, 'bench', 'main.ts'),
      compare: join(root, 'bench', 'compare.ts'),
      train: join(root, 'src', 'cli', 'train.node.ts'),
    },
    outdir: bundleDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    // tfjs is CommonJS and calls require() for Node built-ins; give the ESM bundle a real one.
    banner: {
      js: "import { createRequire as __aimCreateRequire } from 'node:module';\nconst require = __aimCreateRequire(import.meta.url);",
    },
    logLevel: quiet ? 'error' : 'warning',
    legalComments: 'none',
  });
  if (!quiet) {
    for (const path of [bundlePath, comparePath, trainPath])
      console.error(`bundled ${relative(process.cwd(), path) || path}`);
  }
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  bundleBench().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
