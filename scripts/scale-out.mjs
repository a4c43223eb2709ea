// `npm run scale-out -- (--run <run.json> | --recipe aim-v1-600M) … --out <dir>`: bundles
// src/cli/scaleOut.node.ts with esbuild into .gpu/scale-out.mjs and runs it in this process
// (no GPU involved: the bundle builder is plain TypeScript). See `npm run scale-out -- --help`.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, '.gpu', 'scale-out.mjs');
mkdirSync(dirname(outfile), { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'cli', 'scaleOut.node.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'error',
  legalComments: 'none',
});
await import(pathToFileURL(outfile).href);
