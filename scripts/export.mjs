// `npm run export -- <checkpoint-dir> --format fp32|fp16|int4 --out <dir>`: bundles
// src/cli/export.node.ts with esbuild into .gpu/export.mjs and runs it in this process
// (no GPU involved: the exporter is plain TypeScript). See `npm run export -- --help`.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, '.gpu', 'export.mjs');
mkdirSync(dirname(outfile), { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'cli', 'export.node.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // onnx-proto is CommonJS and require()s protobufjs; give the ESM bundle a real require.
  banner: {
    js: "import { createRequire as __aimCreateRequire } from 'node:module';\nconst require = __aimCreateRequire(import.meta.url);",
  },
  logLevel: 'error',
  legalComments: 'none',
});
await import(pathToFileURL(outfile).href);
