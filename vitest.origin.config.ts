import { defineConfig } from 'vitest/config';

// Region origins: pure modules, in-process apps and real processes (s3rver, origin processes,
// local HTTP origin servers on loopback). Files run one at a time: each starts its own processes.
export default defineConfig({
  test: {
    include: ['test/origin/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
