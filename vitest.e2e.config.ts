import { defineConfig } from 'vitest/config';

// Whole-cluster tests: each file starts real processes (s3rver, origins, wrangler dev) on its own
// ports, so files run one at a time.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
