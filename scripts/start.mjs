// `npm start`: the playground as users get it — the production build, built now (Vite builds
// it in seconds), then served by Vite's preview server with the COOP/COEP headers from
// vite.config.ts. Never the dev server: it re-optimises dependencies the first time a lazily
// loaded module (onnxruntime-web, behind the Inference tab) is requested and then reloads the
// page, which killed a running training run (issue 15). `npm run dev` keeps the dev server.
// PORT overrides the port (5173).
import { build, preview } from 'vite';

const port = Number(process.env.PORT ?? 5173);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`PORT must be a port number (got ${process.env.PORT}).`);
  process.exit(2);
}
await build({ mode: 'production', logLevel: 'warn' });
const server = await preview({ preview: { host: '127.0.0.1', port, strictPort: true } });
server.printUrls();
