import { expect, test, type Page } from '@playwright/test';

// Training runs in the real Web Worker on Chromium's WebGPU (SwiftShader), driven through
// window.__aimRuns (src/diagnostics/testHooks.ts, test build only), the same worker API the UI calls.
const micro = {
  preset: 'aim-micro' as const,
  headDepth: 1,
  batch: 4,
  evalImages: 8,
  checkpointEvery: 2,
  seed: 7,
};

async function open(page: Page) {
  await page.goto('/');
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
}

async function waitFor(page: Page, predicate: string, timeout = 90_000) {
  await page.waitForFunction(predicate, undefined, { timeout, polling: 200 });
}

const lastCheckpointStep = (page: Page) =>
  page.evaluate(() =>
    Math.max(
      0,
      ...window
        .__aimRuns!.events.filter((e) => e.type === 'checkpoint')
        .map((e) => (e as { step: number }).step),
    ),
  );

test('a run trains in the worker, pauses, steps, resumes and finishes', async ({ page }) => {
  await open(page);
  const info = await page.evaluate(
    (s) => window.__aimRuns!.start('run-a', s, { kind: 'procedural', size: 16 }),
    {
      ...micro,
      steps: 6,
      evalEvery: 3,
    },
  );
  expect(info.parameters).toBeGreaterThan(0);
  expect(info.gpuBytes).toBeGreaterThan(0);
  await waitFor(page, "window.__aimRuns.events.filter((e) => e.type === 'metrics').length >= 2");
  await page.evaluate(() => window.__aimRuns!.pause());
  const paused = await page.evaluate(() => window.__aimRuns!.status());
  expect(paused?.phase).toBe('paused');
  await page.waitForTimeout(1500);
  expect((await page.evaluate(() => window.__aimRuns!.status()))?.step).toBe(paused?.step);
  await page.evaluate(() => window.__aimRuns!.step());
  expect((await page.evaluate(() => window.__aimRuns!.status()))?.step).toBe(paused!.step + 1);
  await page.evaluate(() => window.__aimRuns!.resume());
  await waitFor(
    page,
    "window.__aimRuns.events.some((e) => e.type === 'status' && e.phase === 'finished')",
  );
  const events = await page.evaluate(() => window.__aimRuns!.events);
  const metrics = events.filter((e) => e.type === 'metrics');
  expect(metrics.map((e) => e.metrics.step)).toEqual([1, 2, 3, 4, 5, 6]);
  for (const e of metrics) expect(Number.isFinite(e.metrics.trainLoss)).toBe(true);
  const evals = events.filter((e) => e.type === 'eval');
  expect(evals.map((e) => e.metrics.step)).toEqual([3, 6]);
  // The worker announces each step, evaluation and checkpoint as it begins (the page's
  // progress within a step): each step's announcement comes before its metrics.
  const order = events.flatMap((e) =>
    e.type === 'activity'
      ? [`${e.activity} ${e.step}`]
      : e.type === 'metrics'
        ? [`done ${e.metrics.step}`]
        : e.type === 'eval'
          ? [`evaluated ${e.metrics.step}`]
          : e.type === 'checkpoint'
            ? [`saved ${e.step}`]
            : [],
  );
  for (const k of [1, 2, 3, 4, 5, 6])
    expect(order.indexOf(`step ${k}`)).toBe(order.indexOf(`done ${k}`) - 1);
  expect(order.indexOf('evaluate 3')).toBe(order.indexOf('evaluated 3') - 1);
  expect(order.indexOf('checkpoint 2')).toBe(order.indexOf('saved 2') - 1);
  expect(evals[1].metrics.chunkLoss).toHaveLength(8);
  const [prediction] = await page.evaluate(() => window.__aimRuns!.predictions(1));
  expect(prediction.predicted).toHaveLength(16 * 16 * 3);
});

test('a reloaded tab resumes the interrupted run from its checkpoint', async ({ page }) => {
  await open(page);
  await page.evaluate(
    (s) => window.__aimRuns!.start('run-b', s, { kind: 'procedural', size: 16 }),
    {
      ...micro,
      steps: 40,
      evalEvery: 100,
    },
  );
  await waitFor(
    page,
    "window.__aimRuns.events.some((e) => e.type === 'checkpoint' && e.step >= 2)",
  );
  const saved = await lastCheckpointStep(page);
  await page.reload();
  await expect(page.getByTestId('gpu-phase')).toHaveAttribute('data-phase', 'ready');
  expect(await page.evaluate(() => window.__aimRuns!.savedRuns())).toContain('run-b');
  const info = await page.evaluate(
    (s) => window.__aimRuns!.start('run-b', s, { kind: 'procedural', size: 16 }, { resume: true }),
    { ...micro, steps: 40, evalEvery: 100 },
  );
  expect(info.resumed).toBe(true);
  expect(info.step).toBeGreaterThanOrEqual(saved);
  // The checkpoint's own steps come back with it (the page may not have recorded the last
  // ones before the reload): every step of the last interval, up to the checkpoint's.
  const recent = info.recent!.metrics.map((m) => m.step);
  expect(recent.at(-1)).toBe(info.step);
  expect(recent).toEqual(
    Array.from({ length: recent.length }, (_, i) => info.step - recent.length + 1 + i),
  );
  expect(recent.length).toBeGreaterThanOrEqual(micro.checkpointEvery);
  await waitFor(
    page,
    `window.__aimRuns.events.some((e) => e.type === 'metrics' && e.metrics.step === ${info.step + 1})`,
  );
  await page.evaluate(() => window.__aimRuns!.stop());
});

test('after a lost GPU device the run resumes from its last checkpoint', async ({ page }) => {
  await open(page);
  const settings = { ...micro, steps: 40, evalEvery: 100 };
  await page.evaluate(
    (s) => window.__aimRuns!.start('run-c', s, { kind: 'procedural', size: 16 }),
    settings,
  );
  await waitFor(
    page,
    "window.__aimRuns.events.some((e) => e.type === 'checkpoint' && e.step >= 2)",
  );
  await page.evaluate(() => window.__aimPlayground!.loseWorkerDevice());
  await waitFor(
    page,
    "window.__aimRuns.events.some((e) => e.type === 'status' && e.phase === 'failed')",
  );
  const failedAt = await page.evaluate(() => window.__aimRuns!.status());
  const saved = await lastCheckpointStep(page);
  // At most checkpointEvery steps are lost.
  expect(failedAt!.step - saved).toBeLessThanOrEqual(settings.checkpointEvery);
  const info = await page.evaluate(
    (s) => window.__aimRuns!.start('run-c', s, { kind: 'procedural', size: 16 }, { resume: true }),
    settings,
  );
  expect(info.resumed).toBe(true);
  expect(info.step).toBe(saved);
  await waitFor(
    page,
    `window.__aimRuns.events.some((e) => e.type === 'metrics' && e.metrics.step === ${saved + 1})`,
  );
  await page.evaluate(() => window.__aimRuns!.stop());
});

test('the embedded Fashion-MNIST set trains in the worker (the default dataset)', async ({
  page,
}) => {
  await open(page);
  const info = await page.evaluate(
    (s) => window.__aimRuns!.start('run-fmnist', s, { kind: 'fashion-mnist' }),
    {
      ...micro,
      steps: 2,
      evalEvery: 2,
    },
  );
  expect(info.dataset.train).toBe(10000);
  expect(info.dataset.val).toBe(2000);
  await waitFor(
    page,
    "window.__aimRuns.events.some((e) => e.type === 'status' && e.phase === 'finished')",
  );
  const evals = await page.evaluate(() =>
    window.__aimRuns!.events.filter((e) => e.type === 'eval'),
  );
  expect(evals).toHaveLength(1);
});
