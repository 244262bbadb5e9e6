// The hooks' tests: happy-dom for the DOM (it resolves a form's named controls,
// `e.target.code`, as browsers do and the documents' components rely on), the real server from ../js/test/server.mjs.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The automatic JSX runtime, as the package's own build uses (no `import React`).
  esbuild: { jsx: 'automatic' },
  test: {
    environment: 'happy-dom',
    include: ['test/**/*.test.jsx'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
