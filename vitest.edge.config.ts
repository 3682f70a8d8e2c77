import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Edge tests run inside workerd with the worker from wrangler.toml. Test regions are real Node
// HTTP servers started by test/edge/global-setup.ts; their URLs reach the worker as bindings.
export default defineConfig({
  plugins: [
    cloudflareTest(async ({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          PIXMESH_INTERNAL_SECRET: 'edge-test-secret-0123456789abcdef',
          PIXMESH_TRUST_GEO_HEADERS: 'true',
          PIXMESH_OPERATOR_ACCOUNTS: 'demo',
          PIXMESH_REGION_URLS: inject('regionUrls' as never) as string,
          PIXMESH_ACCOUNTS_JSON: inject('accountsJson' as never) as string,
        },
      },
    })),
  ],
  test: {
    include: ['test/edge/**/*.test.ts'],
    globalSetup: ['test/edge/global-setup.ts'],
    testTimeout: 30_000,
    // The test regions (and their control endpoints) are shared: one file at a time.
    fileParallelism: false,
  },
});
