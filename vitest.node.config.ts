import { defineConfig } from 'vitest/config';

// Pure modules and in-process origin tests (Node). Edge tests run in workerd (vitest.edge.config.ts),
// whole-cluster tests in vitest.e2e.config.ts.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    // Two cores: sharp work in parallel files would only fight over them.
    maxWorkers: 2,
  },
});
