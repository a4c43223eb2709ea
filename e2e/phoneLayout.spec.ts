import { expect, test } from '@playwright/test';

// At a phone's width (390 px) no view makes the page scroll sideways (issue 15, defect 13):
// the tab list scrolls within itself and the two columns stack. Screenshots of every tab at
// 390 px and at 1280×800 go to e2e-artifacts/ to be looked at.
const TABS = ['train', 'compare', 'runs', 'inference', 'gpu'] as const;

for (const [width, height] of [
  [390, 844],
  [1280, 800],
] as const) {
  test(`every tab fits a ${width} px wide screen without sideways scrolling`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    await page.goto('/#preset=aim-micro');
    await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
    for (const tab of TABS) {
      await page.getByTestId(`tab-${tab}`).click();
      await expect(page.getByTestId(`tab-${tab}`)).toHaveAttribute('aria-selected', 'true');
      // Inference fills in once onnxruntime has started: measure its widest table too.
      if (tab === 'inference')
        await expect(page.getByTestId('preset-memory')).toBeVisible({ timeout: 60_000 });
      await page.screenshot({ path: `e2e-artifacts/tab-${tab}-${width}.png`, fullPage: true });
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(
        overflow,
        `${tab} at ${width} px scrolls sideways by ${overflow} px`,
      ).toBeLessThanOrEqual(0);
    }
  });
}
