/** Boot one region origin: config → account directory → caches → HTTP server; SIGTERM drains. */
import { serve } from '@hono/node-server';
import { AccountDirectory } from './accounts.js';
import { createOriginApp } from './app.js';
import { ResultCache } from './cache/result-cache.js';
import { loadConfig } from './config.js';
import { log, setLogContext } from './log.js';

async function main(): Promise<void> {
  const config = loadConfig();
  setLogContext({ region: config.region });
  const accounts = new AccountDirectory(config.accountsFile);
  accounts.watch();
  const cache = await ResultCache.open(config.cacheDir, config.cacheMaxBytes);
  const app = createOriginApp({ config, accounts, cache });
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
    log.info('origin listening', { url: `http://${config.host}:${info.port}`, accounts: accounts.all().length });
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    accounts.close();
    const force = setTimeout(() => process.exit(0), Number(process.env.PIXMESH_SHUTDOWN_GRACE_MS ?? 10_000));
    force.unref();
    server.close(() => process.exit(0));
    (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
