// Vite build of the dashboard (docs/dashboard.md, ADR 0100). The output (dist/) is what the node serves
// at `/` (node/src/api/dashboard.ts); everything is bundled, nothing is loaded from another origin.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // One small app: a single chunk plus uPlot keeps the page to a few requests.
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npx vite node/dashboard` during development: the API of a devnet node behind the same origin.
    proxy: {
      '/v1': 'http://127.0.0.1:7701',
      '/metrics': 'http://127.0.0.1:7701',
      '/docs': 'http://127.0.0.1:7701',
    },
  },
});
