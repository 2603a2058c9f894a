/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

// The production build has one entry, index.html (src/main.tsx, the real
// IPC). dev/index.html (an in-memory fake of the IPC) is served by the dev
// server only (`npm run dev:fake`) and is never part of dist/.
export default defineConfig({
  plugins: [solid()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  // The preview's libraries load lazily; pre-bundle them so the dev server
  // does not discover them late and reload the page.
  optimizeDeps: { include: ['markdown-it', 'dompurify'] },
  build: {
    outDir: 'dist',
    target: 'es2021',
    // Tauri's CSP: no inline scripts; the polyfill is not needed by WebKit/WebView2.
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    // A guard against hangs, not a speed check: the app-level tests render
    // thousands of rows in jsdom, which a loaded 2-core CI machine can make
    // slow.
    testTimeout: 30_000,
  },
});
