import { expect, test } from '@playwright/test';

test('without WebGPU the page explains why instead of going blank', async ({ page }) => {
  await page.goto('/');
  const panel = page.getByTestId('webgpu-unavailable');
  await expect(panel).toBeVisible();
  await expect(panel).toContainText('WebGPU is not available');
  await expect(panel).toContainText('What to do');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'unavailable');
  await page.screenshot({ path: 'e2e-artifacts/no-webgpu.png', fullPage: true });
});
