// Bundles bench/main.ts (with tfjs) into one ESM file, .gpu/bench.mjs, for Node.
// Only the native `webgpu` package stays external: on a bare GPU machine it comes from
// .gpu/node_modules (filled by ../shared/device/prepare.sh), here from node_modules.
// Shaders are read at run time from ./shaders under the working directory (run from the root).
import { mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const bundlePath = join(root, '.gpu', 'bench.mjs');

export async function bundleBench({ quiet = false } = {}) {
  mkdirSync(dirname(bundlePath), { recursive: true });
  const result = await build({
    entryPoints: [join(root, 'bench', 'main.ts')],
    outfile: bundlePath,
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
  if (!quiet) console.error(`bundled ${relative(process.cwd(), bundlePath) || bundlePath}`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  bundleBench().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
