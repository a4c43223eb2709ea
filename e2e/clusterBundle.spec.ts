import { expect, test, type Page } from '@playwright/test';
import { unzipSync } from 'fflate';
import { bytesByteSource } from '../src/onnx/byteSource';
import { openTorchCheckpoint } from '../src/onnx/torchZip';
import { parseYaml, resolveInterpolations, type YamlMap } from '../src/scaleout/yaml';

// "Continue on a cluster" on a finished run: a short aim-micro run trained through the UI
// (SwiftShader), then the Runs view's button downloads the ml-l3m bundle — config.yaml with
// the run's settings, launch.sh, README.md and checkpoint.pth in ml-l3m's layout — and says in
// one line what was not carried over. Screenshots of the Runs view at 1280×800 and 390 px.
const LINK =
  '/#tab=train&preset=aim-micro&steps=4&batch=4&evalEvery=2&evalImages=8&chunks=4&checkpointEvery=2&seed=5&ordering=checkerboard&lr=0.002';

async function openReady(page: Page, url: string) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  return errors;
}

test('a finished run downloads as an ml-l3m bundle with its checkpoint', async ({ page }) => {
  test.setTimeout(240_000);
  await page.setViewportSize({ width: 1280, height: 800 });
  const errors = await openReady(page, LINK);
  await page.getByTestId('train').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-phase', 'finished', {
    timeout: 120_000,
  });

  await page.getByTestId('tab-runs').click();
  const row = page.getByTestId('run-row').first();
  const button = row.getByTestId('cluster-bundle');
  await expect(button).toHaveText('Continue on a cluster');
  const download = page.waitForEvent('download');
  await button.click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/-ml-l3m\.zip$/);
  const zip = unzipSync(
    new Uint8Array(Buffer.concat(await (await file.createReadStream()).toArray())),
  );
  const folder = file.suggestedFilename().replace(/\.zip$/, '');
  expect(Object.keys(zip).sort()).toEqual(
    ['README.md', 'checkpoint.pth', 'config.yaml', 'launch.sh', 'playground_orderings.py'].map(
      (f) => `${folder}/${f}`,
    ),
  );

  // The config carries the run's settings, in ml-l3m's schema.
  const config = resolveInterpolations(
    parseYaml(new TextDecoder().decode(zip[`${folder}/config.yaml`])) as YamlMap,
  );
  const constants = config.constants as YamlMap;
  expect(constants.img_size).toBe(16);
  expect(constants.vision_embed_dim).toBe(64);
  expect(constants.prefix_range).toEqual([1, 15]);
  expect(((config.optim as YamlMap).optimizer as YamlMap).lr).toBe(0.002);
  expect((config.experiment as YamlMap).total_iterations).toBe(4);
  expect((constants.patch_order as number[]).slice(0, 3)).toEqual([0, 2, 5]);

  // The checkpoint is ml-l3m's state dict: its module names and separate q/k/v.
  const pth = zip[`${folder}/checkpoint.pth`];
  const sd = await openTorchCheckpoint(bytesByteSource(pth, 'checkpoint.pth'));
  const keys = [...sd.tensors.keys()];
  expect(keys).toContain('preprocessor.blocks.0.patchifier.proj.weight');
  expect(keys).toContain('trunk.blocks.0.attn.q_proj.weight');
  expect(keys).toContain('head.decoder_pred.weight');

  // One line: what was not carried over, and why.
  const note = row.getByTestId('cluster-bundle-note');
  await expect(note).toContainText('Not carried over:');
  await expect(note).toContainText('Patch ordering (ml-l3m’s AIM v1 path cannot express it');
  await expect(note).toContainText('Eval images (ml-l3m evaluates the whole validation folder)');

  await page.screenshot({ path: 'e2e-artifacts/cluster-bundle-1280.png' });
  await page.setViewportSize({ width: 390, height: 844 });
  await row.getByTestId('cluster-bundle').scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'e2e-artifacts/cluster-bundle-390.png' });
  expect(errors).toEqual([]);
});
