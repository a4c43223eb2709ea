import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Cross-origin isolation (COOP/COEP) gives SharedArrayBuffer and precise timers, which
// multi-threaded onnxruntime-web needs; set for both the dev server and the preview server.
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * `--mode test` makes the e2e test build, in dist-test/: src/main.tsx and the workers then
 * load src/diagnostics/ (the tests' handles and the workers' diagnostics API). The default
 * (production) build, in dist/, folds those branches away; e2e/productionBundle.spec.ts
 * checks that none of it is left there.
 */
// AIM_TEST_BUILD_DIR (a folder name matching dist-test*, which .gitignore covers) lets two
// checkouts or two people's edits in one tree build and serve their test builds side by side.
const TEST_BUILD_DIR = process.env.AIM_TEST_BUILD_DIR ?? 'dist-test';

export default defineConfig(({ mode }) => ({
  plugins: [react()],
  worker: { format: 'es' },
  // onnxruntime-web finds its .wasm next to its own module (new URL(…, import.meta.url));
  // pre-bundling would move the module away from the file, so Vite serves it as it is.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', sourcemap: true, outDir: mode === 'test' ? TEST_BUILD_DIR : 'dist' },
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
}));
