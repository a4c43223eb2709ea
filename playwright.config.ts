import { defineConfig } from '@playwright/test';

// Debian's Chromium (scripts/ensure-chromium.mjs installs it); `npx playwright install`
// cannot download browsers on our machines. CHROME_PATH overrides.
const executablePath = process.env.CHROME_PATH || '/usr/bin/chromium';

const baseArgs = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

// AIM_E2E_PORT lets two checkouts run their browser tests side by side.
const PORT = Number(process.env.AIM_E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: '.test-results/e2e.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    headless: true,
    viewport: { width: 1280, height: 720 },
  },
  projects: [
    {
      name: 'webgpu',
      testIgnore: /no-webgpu\.spec\.ts/,
      use: {
        launchOptions: { executablePath, args: [...baseArgs, '--enable-unsafe-webgpu'] },
      },
    },
    {
      // Without --enable-unsafe-webgpu, Linux Chromium has no WebGPU adapter: the app must explain, not go blank.
      name: 'no-webgpu',
      testMatch: /no-webgpu\.spec\.ts/,
      use: { launchOptions: { executablePath, args: baseArgs } },
    },
  ],
  webServer: {
    // The test build (`npx vite build --mode test`, in dist-test/: the production build plus
    // the tests' handles, src/diagnostics/), served as users get the app; scripts/test.mjs
    // builds both before running e2e, and e2e/productionBundle.spec.ts reads dist/.
    command: `npx vite preview --mode test --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
