import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // GPU tests share one software adapter; keep files in one worker pool but allow parallel files.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
