import { expect, test } from '@playwright/test';

// At a phone's width (390 px) no view makes the page scroll sideways (issue 15, defect 13):
// the tab list scrolls within itself and the two columns stack. Screenshots of every tab at
// 390 px and at 1280×800 go to e2e-artifacts/ to be looked at.
const TABS = ['train', 'compare', 'paper', 'runs', 'inference', 'gpu'] as const;

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
      if (tab === 'train') {
        // The ordering select shows its whole value (its note sits under it, never cut
        // mid-word inside a narrow select: "raster — row by row … (the p").
        const select = page.getByTestId('ordering');
        for (const ordering of ['raster', 'spiral', 'checkerboard', 'random']) {
          await select.selectOption(ordering);
          const text = await select.evaluate((el) => {
            const s = el as HTMLSelectElement;
            return s.options[s.selectedIndex].text;
          });
          expect(text).toBe(ordering);
          await expect(page.getByTestId('ordering-note')).toBeVisible();
        }
        const cut = await select.evaluate((el) => el.scrollWidth - el.clientWidth);
        expect(cut, 'the ordering select cuts its text').toBeLessThanOrEqual(0);
        // Every select of the settings panel shows a value without its note inside.
        for (const text of await page.locator('.settings select').evaluateAll((els) =>
          els.map((el) => {
            const s = el as HTMLSelectElement;
            return s.options[s.selectedIndex]?.text ?? '';
          }),
        ))
          expect(text).not.toContain(' — ');
        await select.selectOption('raster');
      }
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
