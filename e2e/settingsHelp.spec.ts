import { expect, test } from '@playwright/test';
import { SETTING_KEYS } from '../src/training/settings';
import { SETTINGS_SCHEMA } from '../src/training/settingsSchema';

// Issue 15: help on every setting — what it does and the paper's value — readable by a click
// or the keyboard, not only as a mouse tooltip.
test('every setting in the panel has a help button with what it does and the paper’s value', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=train');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await page.locator('details.advanced > summary').click();
  let checked = 0;
  for (const key of SETTING_KEYS) {
    const spec = SETTINGS_SCHEMA[key];
    const button = page.getByTestId(`${spec.testId}-help`);
    // Every setting drawn in the panel (the dataset has its own picker) has one.
    if ((await page.getByTestId(spec.testId).count()) === 0) continue;
    await expect(button, key).toHaveCount(1);
    await expect(button).toHaveAttribute('aria-expanded', 'false');
    await button.click();
    await expect(button).toHaveAttribute('aria-expanded', 'true');
    const text = page.getByTestId(`${spec.testId}-help-text`);
    await expect(text).toContainText(spec.help.slice(0, 30));
    if (spec.paper !== undefined) await expect(text).toContainText('The paper’s recipe (AIM v1)');
    await button.click();
    await expect(text).toHaveCount(0);
    checked++;
  }
  expect(checked).toBeGreaterThan(15);
  // The learning rate's help names the paper's 1e-3, and the keyboard opens it too.
  await page.getByTestId('lr-help').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('lr-help-text')).toContainText('AIM v1): 0.001.');
  expect(errors).toEqual([]);
});
