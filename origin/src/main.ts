/**
 * Boot one region origin: config (every module's spec, validated together: one error listing
 * every bad variable, exit 1) → libvips bounds → account directory → caches → HTTP server.
 * SIGTERM/SIGINT: stop accepting connections, let in-flight requests finish within
 * PIXMESH_SHUTDOWN_GRACE_MS (default 10 s), then exit 0.
 */
import type { Server } from 'node:http';
import { createServer, type RequestListener, type ServerOptions } from 'node:http';
import { serve } from '@hono/node-server';
import { AccountDirectory } from './accounts.js';
import { createOriginApp } from './app.js';
import { ResultCache } from './cache/result-cache.js';
import { loadConfig } from './config.js';
import { log, setLogContext } from './log.js';
import { configureSharp } from './pipeline/index.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  configureSharp(config.pipeline);
  setLogContext({ region: config.region });
  const accounts = new AccountDirectory(config.accountsFile);
  accounts.watch();
  const cache = await ResultCache.open(config.cacheDir, config.cacheMaxBytes, config.cacheMemoryBytes);
  const app = createOriginApp({ config, accounts, cache });
  // Shared state first: purge records are loaded before this replica says it is ready.
  await app.services.region.start();
  // Prepared region-cache hits are answered before the framework (hit-path.ts); the rest by the app.
  // (@hono/node-server calls createServer(serverOptions, its listener); the type names only Node's overloads.)
  const withHitPath = ((options: ServerOptions, appListener: RequestListener) => createServer(options, app.listener(appListener))) as unknown as typeof createServer;
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port, createServer: withHitPath }, (info) => {
    log.info('origin listening', {
      url: `http://${config.host}:${info.port}`,
      accounts: accounts.all().length,
      cache: cache.stats(),
      transformConcurrency: config.transformConcurrency,
      transformQueue: config.transformQueue,
    });
  }) as Server;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.services.lifecycle.draining = true;
    log.info('stopping: draining in-flight requests', { signal, inflight: app.services.inflight.count, graceMs: config.shutdownGraceMs });
    accounts.close();
    void app.services.region.stop();
    const force = setTimeout(() => {
      log.warn('shutdown grace elapsed; exiting with requests still in flight', { inflight: app.services.inflight.count });
      process.exit(0);
    }, config.shutdownGraceMs);
    force.unref();
    // Stop accepting; idle keep-alive sockets are closed now, busy ones after their response.
    server.close(() => {
      // Result-cache writes made behind their responses land before the process goes.
      void Promise.all([app.services.region.flushDeferred(), app.services.writes.flush(), cache.flush()]).finally(() => {
        log.info('stopped');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    sweep.unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
