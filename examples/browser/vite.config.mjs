// The browser example's bundle: index.html + main.js (which imports the model folder that
// build.mjs writes to out/), with out/public/ (checkpoint, corpus, training plans) copied as is.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: dirname(fileURLToPath(import.meta.url)),
  base: './',
  publicDir: 'out/public',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The tokenizers' BPE tables (gpt-tokenizer) make one large chunk; a page of this size loads fine.
    chunkSizeWarningLimit: 2048,
    // Dawn's native bindings: the runtime imports them only in Node, when navigator.gpu is absent.
    rolldownOptions: { external: ['webgpu'] },
  },
  preview: { port: 4173 },
});
