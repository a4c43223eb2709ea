// `npm test`: every check and every test, in the order CI runs them, then one summary line.
// Steps run even after an earlier one failed, so one run shows every problem; the exit code
// is non-zero if anything failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { ensureTestEnvironment } from './ensure-chromium.mjs';

const env = { ...process.env, ...ensureTestEnvironment() };
rmSync('.test-results', { recursive: true, force: true });
mkdirSync('.test-results', { recursive: true });

const failedSteps = [];
function step(name, command, args) {
  console.log(`\n=== ${name}: ${[command, ...args].join(' ')}`);
  const started = Date.now();
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  console.log(`=== ${name}: ${ok ? 'ok' : 'FAILED'} (${seconds} s)`);
  if (!ok) failedSteps.push(name);
  return ok;
}

function readJson(path) {
  try {
    return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
  } catch {
    return undefined;
  }
}

const npx = 'npx';
step('lint', npx, ['eslint', '.']);
step('format', npx, ['prettier', '--check', '.']);
// Two programs: the app (browser + worker types only) and everything that runs in Node.
step('typecheck (app)', npx, ['tsc', '-p', 'tsconfig.json', '--noEmit']);
step('typecheck (node)', npx, ['tsc', '-p', 'tsconfig.node.json', '--noEmit']);
step('unit + kernel tests (Node, Dawn)', npx, [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  '--outputFile.json=.test-results/unit.json',
]);
// The production build (dist/, what `npm run build` makes; e2e/productionBundle.spec.ts checks
// it has no test code), then the test build the browser tests run against (dist-test/).
const built =
  step('build', npx, ['vite', 'build']) &&
  step('build (test mode)', npx, ['vite', 'build', '--mode', 'test']);
if (built) step('browser tests (Playwright, Chromium WebGPU)', npx, ['playwright', 'test']);
else console.log('=== browser tests skipped: the build failed');

// Informational: a quick SwiftShader benchmark so regressions show in CI logs. It does not
// count toward the summary (CPU emulation timings are noisy), but its kernel checks print.
console.log('\n=== benchmark (SwiftShader, informational): node scripts/bench.mjs --suite ci');
spawnSync('node', ['scripts/bench.mjs', '--suite', 'ci'], { stdio: 'inherit', env });

const unit = readJson('.test-results/unit.json');
const e2e = readJson('.test-results/e2e.json');
let passed = 0;
let failed = 0;
let skipped = 0;
if (unit) {
  passed += unit.numPassedTests;
  failed += unit.numFailedTests;
  skipped += unit.numPendingTests + (unit.numTodoTests ?? 0);
} else failed += 1;
if (e2e) {
  passed += e2e.stats.expected + e2e.stats.flaky;
  failed += e2e.stats.unexpected;
  skipped += e2e.stats.skipped;
} else failed += 1;

// Tests are the only thing counted as passed; a failed check (lint, build, ...) counts as a failure.
const checkFailures = failedSteps.filter((s) => !s.includes('tests')).length;
console.log('');
if (failedSteps.length > 0) console.log(`Failed steps: ${failedSteps.join(', ')}`);
console.log(`Summary: ${passed} passed, ${failed + checkFailures} failed, ${skipped} skipped`);
process.exit(failedSteps.length > 0 || failed > 0 ? 1 : 0);
