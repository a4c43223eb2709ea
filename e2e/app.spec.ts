import { expect, test, type Page } from '@playwright/test';
import { compareWithReference, type MatmulCheckRequest } from '../src/diagnostics/matmulCheck';

async function openReady(page: Page) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  return errors;
}

async function seededMatmul(page: Page, where: 'worker' | 'page', req: MatmulCheckRequest) {
  return page.evaluate(([w, r]) => window.__aimPlayground!.seededMatmul(w, r), [
    where,
    req,
  ] as const);
}

test('the app loads and the worker gets a WebGPU adapter', async ({ page }) => {
  const errors = await openReady(page);
  await expect(page.getByTestId('adapter-name')).not.toBeEmpty();
  // timestamp-query and subgroups exist on SwiftShader and on every desktop GPU we target.
  await expect(page.locator('[data-feature="timestamp-query"]')).toHaveAttribute(
    'data-present',
    'true',
  );
  await page.screenshot({ path: 'e2e-artifacts/home.png', fullPage: true });
  expect(errors).toEqual([]);
});

for (const where of ['worker', 'page'] as const) {
  test(`matmul in the ${where} matches the float64 reference computed by the test`, async ({
    page,
  }) => {
    await openReady(page);
    for (const req of [
      { m: 1, n: 1, k: 1, seed: 101 },
      { m: 17, n: 33, k: 65, seed: 102 },
      { m: 70, n: 5, k: 300, seed: 103 },
    ]) {
      const { c } = await seededMatmul(page, where, req);
      // The reference runs here, in the test's Node process, not in the browser under test.
      const verdict = compareWithReference(req, Float32Array.from(c));
      expect(c).toHaveLength(req.m * req.n);
      expect(verdict.worstBoundRatio, `${where} ${req.m}×${req.n}×${req.k}`).toBeLessThanOrEqual(1);
    }
  });
}

test('the self-test panel runs the kernel in the worker and on the page', async ({ page }) => {
  await openReady(page);
  await page.getByTestId('tab-gpu').click();
  await page.getByTestId('run-self-test').click();
  await expect(page.getByTestId('self-test-verdict')).toHaveAttribute('data-pass', 'true', {
    timeout: 90_000,
  });
  await expect(page.locator('[data-where="worker"][data-pass="true"]')).toHaveCount(4);
  await expect(page.locator('[data-where="page"][data-pass="true"]')).toHaveCount(4);
  await page.screenshot({ path: 'e2e-artifacts/self-test.png', fullPage: true });
});

test('a lost worker device is reported and the user can reconnect', async ({ page }) => {
  await openReady(page);
  await page.evaluate(() => window.__aimPlayground!.loseWorkerDevice());
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'lost');
  await expect(page.getByRole('alert')).toContainText('GPU device was lost');
  await page.screenshot({ path: 'e2e-artifacts/device-lost.png', fullPage: true });
  await page.getByRole('button', { name: 'Reconnect to the GPU' }).click();
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  const req = { m: 9, n: 10, k: 11, seed: 7 };
  const { c } = await seededMatmul(page, 'worker', req);
  expect(compareWithReference(req, Float32Array.from(c)).pass).toBe(true);
});
