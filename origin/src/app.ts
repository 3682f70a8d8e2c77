/**
 * The region origin's HTTP surface, composed from small apps:
 *   /healthz, /readyz           liveness / readiness (public)
 *   /internal/*                 edge → region and region → region calls (HMAC-signed)
 */
import { Hono } from 'hono';
import { H } from '../../shared/headers.js';
import type { AccountDirectory } from './accounts.js';
import type { ResultCache } from './cache/result-cache.js';
import type { OriginConfig } from './config.js';
import { errorResponse } from './errors.js';
import { NonceMemory, requireInternalAuth } from './internal-auth.js';
import { mediaRoutes } from './media/index.js';
import { renderRoutes } from './render.js';

export interface OriginDeps {
  config: OriginConfig;
  accounts: AccountDirectory;
  cache: ResultCache;
}

export function createOriginApp(deps: OriginDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    const res = errorResponse(c, err);
    res.headers.set(H.region, deps.config.region);
    return res;
  });
  app.notFound((c) => c.json({ message: 'not found' }, 404));

  app.get('/healthz', (c) => c.json({ ok: true, region: deps.config.region }));
  app.get('/readyz', (c) => c.json({ ok: true, region: deps.config.region, accounts: deps.accounts.all().length, cache: deps.cache.stats() }));

  const internal = new Hono();
  internal.use('*', requireInternalAuth(deps.config.internalSecret, new NonceMemory()));
  // The edge reads the account directory from the regions (one source of truth: the account file).
  internal.get('/internal/accounts', (c) => c.body(deps.accounts.raw(), 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }));
  internal.route('/', renderRoutes(deps));
  internal.route('/', mediaRoutes(deps));
  app.route('/', internal);
  return app;
}
