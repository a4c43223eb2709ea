/**
 * The README's run command (`npm start`) serves the production build, and switching tabs never
 * reloads the page. Under the dev server, the first visit to Inference made Vite re-optimise
 * onnxruntime-web and reload the page, which killed a running training run (issue 15, defect 1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect, test } from '@playwright/test';

const PORT = 5183;
const ORIGIN = `http://127.0.0.1:${PORT}`;

let server: ChildProcess | undefined;
let serverLog = '';

async function waitForServer(deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (server?.exitCode !== null && server?.exitCode !== undefined)
      throw new Error(`npm start exited with ${server.exitCode}:\n${serverLog}`);
    try {
      if ((await fetch(ORIGIN)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`npm start did not serve ${ORIGIN} in time:\n${serverLog}`);
}

test.beforeAll(async () => {
  test.setTimeout(180_000);
  // Its own process group, so the whole tree (npm → node → vite) stops afterwards.
  server = spawn('npm', ['start'], {
    env: { ...process.env, PORT: String(PORT) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout?.on('data', (d: Buffer) => (serverLog += d.toString()));
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  await waitForServer(Date.now() + 150_000);
});

test.afterAll(() => {
  if (server?.pid) {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
});

test('npm start serves the production build with cross-origin isolation', async ({ request }) => {
  const response = await request.get(`${ORIGIN}/`);
  const html = await response.text();
  // The dev server injects its HMR client; the production build links hashed bundles.
  expect(html).not.toContain('/@vite/client');
  expect(html).toMatch(/<script type="module"[^>]* src="\/assets\/index-[\w-]+\.js"/);
  expect(response.headers()['cross-origin-opener-policy']).toBe('same-origin');
  expect(response.headers()['cross-origin-embedder-policy']).toBe('require-corp');
});

test('switching through every tab, Inference included, never reloads the page', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // `load` fires once per document: a hash change (the tab is in the address) does not fire it.
  let navigations = 0;
  page.on('load', () => (navigations += 1));
  await page.goto(`${ORIGIN}/`);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  const loads = navigations;
  // A value that only survives if the document is never replaced.
  await page.evaluate(() => ((window as unknown as { aimPageMark: number }).aimPageMark = 42));
  for (const tab of ['inference', 'runs', 'compare', 'gpu', 'inference', 'train'] as const) {
    await page.getByTestId(`tab-${tab}`).click();
    await expect(page.getByTestId(`tab-${tab}`)).toHaveAttribute('aria-selected', 'true');
    await expect(page.locator(`#panel-${tab}`)).not.toBeEmpty();
  }
  // Give a reload triggered by a lazily loaded module time to happen.
  await page.waitForTimeout(3000);
  expect(navigations).toBe(loads);
  expect(
    await page.evaluate(() => (window as unknown as { aimPageMark?: number }).aimPageMark),
  ).toBe(42);
  expect(errors).toEqual([]);
});
