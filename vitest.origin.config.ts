import { defineConfig } from 'vitest/config';

// Region origins as real processes (s3rver, origin processes, local HTTP origin servers).
export default defineConfig({
  test: {
    include: ['test/origin/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
