import { expect, test } from '@playwright/test';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KERNEL_CASES } from '../src/diagnostics/kernelCases';

// The production build (dist/, `npm run build`) must carry no test code: no test handle on
// the page, no diagnostics endpoint or call in either worker, no kernel case. The test build
// (dist-test/, `vite build --mode test`) is searched for the same names, so a name that no
// longer exists anywhere cannot make this test pass vacuously. scripts/test.mjs makes both.
const TEST_ONLY_NAMES = [
  '__aimPlayground',
  '__aimRuns',
  '__aimInference',
  '__aimConvert',
  'convertRandom',
  'aim-open-diagnostics',
  'runKernelCase',
  'kernelCaseNames',
  'loseDevice',
  'loseWorkerDevice',
  'runSeededMatmul',
  'simulateStorageQuota',
  'runBatch',
  'runWgslBatch',
  ...KERNEL_CASES.map((c) => c.name),
];

/** Every JavaScript file of a build (page and worker chunks), with escapes undone. */
function bundleText(dir: string): { files: number; text: string } {
  if (!existsSync(dir)) throw new Error(`${dir}/ is missing: run \`npx vite build\` first`);
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.js'),
  );
  const text = files
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n')
    .replace(/\\u\{([0-9a-fA-F]+)\}|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})/g, (_, a, b, c) =>
      String.fromCodePoint(parseInt(a ?? b ?? c, 16)),
    );
  return { files: files.length, text };
}

test('the production bundle has no test hook; the test bundle has them all', () => {
  const production = bundleText('dist');
  const testBuild = bundleText('dist-test');
  // The page and both workers at least.
  expect(production.files).toBeGreaterThanOrEqual(3);
  const leaked = TEST_ONLY_NAMES.filter((name) => production.text.includes(name));
  expect(leaked, 'test-only names in dist/').toEqual([]);
  const missing = TEST_ONLY_NAMES.filter((name) => !testBuild.text.includes(name));
  expect(missing, 'names the test build should carry').toEqual([]);
});
