/** Runs into the page through the Runs tab's import (an export file made by the test). */
import { expect, type Page } from '@playwright/test';

export async function importRuns(page: Page, runs: readonly unknown[]): Promise<void> {
  await page.getByTestId('import-runs').setInputFiles({
    name: 'runs.json',
    mimeType: 'application/json',
    buffer: Buffer.from(
      JSON.stringify({ format: 'aim-playground-runs', version: 1, exportedAt: '', runs }),
    ),
  });
  await expect(page.getByTestId('runs-note')).toContainText('Imported');
}
