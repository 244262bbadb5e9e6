// The example app's Vite config: React, and the dev server on the port `scripts/dev.mjs`
// picks (LATCHKEY_EXAMPLE_PORT), loopback only. The Latchkey server's address reaches the app
// as VITE_LATCHKEY_URL.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    port: Number(process.env.LATCHKEY_EXAMPLE_PORT || 5173),
    strictPort: true,
  },
  // Pre-bundled at start, so the first page load does not find new dependencies and reload.
  optimizeDeps: { include: ['react', 'react-dom', 'react-dom/client', 'react/jsx-runtime', 'react/jsx-dev-runtime'] },
  clearScreen: false,
});
