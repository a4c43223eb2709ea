import { expect, test } from '@playwright/test';

// The settings panel's bounds (issue 15, defect 5): values out of a setting's bounds are
// refused with one message style and mark their field aria-invalid; what does not parse never
// reaches the address as NaN.

test('out-of-bounds settings mark their fields invalid, block Train, and never write NaN', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#tab=train&preset=aim-micro&steps=1e12');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  const problems = page.getByTestId('settings-problems');

  // A link with 1e12 steps opens, but cannot run.
  await expect(page.getByTestId('steps')).toHaveAttribute('aria-invalid', 'true');
  await expect(problems).toContainText(
    'The number of steps must be a positive whole number up to 1,000,000.',
  );
  await expect(page.getByTestId('train')).toBeDisabled();
  await page.getByTestId('steps').fill('20');
  await expect(page.getByTestId('steps')).toHaveAttribute('aria-invalid', 'false');
  await expect(problems).toHaveCount(0);

  await page.getByTestId('lr').fill('abc');
  await expect(page.getByTestId('lr')).toHaveAttribute('aria-invalid', 'true');
  await expect(problems).toContainText('The learning rate must be a number above 0 and below 1.');
  await expect(page.getByTestId('train')).toBeDisabled();
  expect(page.url()).not.toContain('NaN');
  await page.getByTestId('lr').fill('0.002');
  await expect.poll(() => page.url()).toContain('lr=0.002');

  // aim-micro predicts 15 patches per image: 16 loss chunks would leave one empty.
  await page.getByText('More settings').click();
  await page.getByTestId('chunks').fill('16');
  await expect(page.getByTestId('chunks')).toHaveAttribute('aria-invalid', 'true');
  await expect(problems).toContainText('up to 15 (aim-micro predicts 15 patches per image)');
  await page.getByTestId('chunks').fill('15');
  await expect(problems).toHaveCount(0);
  await expect(page.getByTestId('train')).toBeEnabled();
  expect(errors).toEqual([]);
});
