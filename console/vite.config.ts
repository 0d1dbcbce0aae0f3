import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The admin console's build: static files under console/dist, served at /console/ (by the twin
 * locally, by CloudFront on AWS). Relative asset URLs (`base: './'`) keep the same files working
 * under /console/ on the twin and at the root of the CloudFront distribution.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Modest: one small bundle, no source maps shipped to users' browsers.
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  logLevel: 'warn',
});
