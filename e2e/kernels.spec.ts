import { expect, test } from '@playwright/test';
import { KERNEL_CASES } from '../src/diagnostics/kernelCases';

// Every kernel case runs inside Chromium's Web Worker; the grade is computed here, in Node,
// in float64 — the browser under test never grades itself.
test('every kernel case runs in the Web Worker and matches the float64 reference', async ({
  page,
}) => {
  await page.goto('/');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  const names = await page.evaluate(() => window.__aimPlayground!.kernelCaseNames());
  expect(names).toEqual(KERNEL_CASES.map((c) => c.name));
  for (const kernelCase of KERNEL_CASES) {
    const outputs = await page.evaluate(
      (name) => window.__aimPlayground!.runKernelCaseInWorker(name),
      kernelCase.name,
    );
    const ratio = kernelCase.grade(kernelCase.inputs(), outputs);
    expect(ratio, kernelCase.name).toBeLessThanOrEqual(1);
  }
});
