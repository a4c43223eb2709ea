import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Cross-origin isolation (COOP/COEP) gives SharedArrayBuffer and precise timers, which
// multi-threaded onnxruntime-web needs; set for both the dev server and the preview server.
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  // onnxruntime-web finds its .wasm next to its own module (new URL(…, import.meta.url));
  // pre-bundling would move the module away from the file, so Vite serves it as it is.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', sourcemap: true },
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
});
