import { expect, test, type Locator, type Page } from '@playwright/test';

// The shared drop zone (src/ui/DropZone.tsx) with a real drop event, not only the file
// input: the box lights up while files hover, the drop reaches the dataset loader, and the
// keyboard reaches the file picker from the dataset choice.

async function dropFile(page: Page, zone: Locator, name: string, type: string, text: string) {
  const data = await page.evaluateHandle(
    ({ name, type, text }) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], name, { type }));
      return transfer;
    },
    { name, type, text },
  );
  await zone.dispatchEvent('dragover', { dataTransfer: data });
  await expect(zone).toHaveClass(/\bover\b/);
  await zone.dispatchEvent('drop', { dataTransfer: data });
  await expect(zone).not.toHaveClass(/\bover\b/);
}

test('a file dropped on the dataset box is loaded; Tab reaches its file picker', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready', {
    timeout: 60_000,
  });
  await page.getByTestId('dataset-user').check();
  const zone = page.locator('.dropzone');
  await expect(zone.locator('input[type=file]')).toHaveCount(2);
  await expect(zone.locator('input[webkitdirectory]')).toHaveCount(1);

  await page.getByTestId('dataset-user').focus();
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const el = document.activeElement as HTMLInputElement | null;
    return {
      type: el?.type,
      folder: el?.hasAttribute('webkitdirectory'),
      inZone: el?.closest('.dropzone') !== null,
    };
  });
  expect(focused).toEqual({ type: 'file', folder: false, inZone: true });

  await dropFile(page, zone, 'photos.zip', 'application/zip', 'no zip');
  await expect(page.getByTestId('error-notice')).toContainText('The dataset could not be used.');
  expect(errors).toEqual([]);
});
