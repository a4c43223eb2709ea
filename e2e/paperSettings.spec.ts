import { expect, test } from '@playwright/test';

// The paper's settings in the panel (issue 14): targets, prediction head, head width and the
// trunk's width, depth and heads are drawn from the schema, come from and go to the address,
// mark a shape that cannot be built before a run, and say when the model is no longer the
// preset's own.

test('paper settings: from the address, into the address, bounds said on the field', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=train&preset=aim-micro&targets=raw&headKind=none&width=48');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  const problems = page.getByTestId('settings-problems');

  // The link's values are what the panel shows.
  await expect(page.getByTestId('targets')).toHaveValue('raw');
  await expect(page.getByTestId('head-kind')).toHaveValue('none');
  await expect(page.getByTestId('width')).toHaveValue('48');
  await expect(page.getByTestId('depth')).toHaveValue('2');
  await expect(page.getByTestId('custom-model')).toContainText(
    'Custom aim-micro: trunk width 48 (aim-micro: 64)',
  );
  await expect(problems).toHaveCount(0);
  await expect(page.getByTestId('train')).toBeEnabled();

  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('targets').scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/paper-settings-1280.png' });

  // A width the 2 heads and the sin-cos positions cannot take: said before a run, on the field.
  await page.getByTestId('width').fill('50');
  await expect(page.getByTestId('width')).toHaveAttribute('aria-invalid', 'true');
  await expect(problems).toContainText(
    'Trunk width 50 must be divisible by 4 for the 2-D sin-cos positions.',
  );
  await expect(page.getByTestId('train')).toBeDisabled();
  await page.getByTestId('width').fill('5000');
  await expect(problems).toContainText('The trunk width must be a whole number from 4 to 2048.');
  await page.getByTestId('width').fill('40');
  await expect(page.getByTestId('width')).toHaveAttribute('aria-invalid', 'false');
  await expect(problems).toHaveCount(0);

  // Edits go to the address; the preset's own values and the defaults stay out of it.
  await page.getByTestId('depth').fill('3');
  await page.getByTestId('head-width').fill('32');
  // (The address follows the panel a moment later: wait for the last edit to reach it.)
  await expect.poll(() => page.url()).toContain('headWidth=32');
  expect(page.url()).toContain('width=40');
  expect(page.url()).toContain('depth=3');
  expect(page.url()).toContain('targets=raw');
  expect(page.url()).toContain('headKind=none');
  await page.getByTestId('head-kind').selectOption('mlp');
  await expect.poll(() => page.url()).not.toContain('headKind');

  // The address reproduces the panel after a reload.
  await page.reload();
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('targets')).toHaveValue('raw');
  await expect(page.getByTestId('head-kind')).toHaveValue('mlp');
  await expect(page.getByTestId('width')).toHaveValue('40');
  await expect(page.getByTestId('depth')).toHaveValue('3');
  await expect(page.getByTestId('head-width')).toHaveValue('32');

  // Choosing a preset sets its shape again, and says what it changed.
  await page.getByTestId('preset').selectOption('aim-tiny');
  await expect(page.getByTestId('width')).toHaveValue('192');
  await expect(page.getByTestId('preset-note')).toContainText('trunk width 192 (was 40)');
  await expect(page.getByTestId('custom-model')).toHaveCount(0);
  await expect(page.getByTestId('targets')).toHaveValue('raw');

  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId('targets').scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/paper-settings-390.png' });
  // Nothing of the panel runs off a phone's screen.
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
  expect(errors).toEqual([]);
});
