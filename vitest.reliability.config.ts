import { defineConfig } from 'vitest/config';

// Reliability and security suite (issue 8): adversarial inputs through the whole cluster, URL
// fuzzing, SSRF, signatures, faults under load. Whole-cluster files start real processes on
// their own ports (9700+, 9800+), so files run one at a time.
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
