/**
 * The region origin's HTTP surface, composed from small apps:
 *   /healthz            liveness (public)
 *   /readyz             readiness: accounts loaded, result cache writable, S3 reachable, not draining (public)
 *   /metrics            Prometheus text (public; bind the origin to a private network)
 *   /internal/*         edge → region and region → region calls (HMAC-signed)
 *     GET  /internal/accounts          the account file, for the edge
 *     GET  /internal/render/<acct>/…   one image (render.ts)
 *     POST /internal/purge?…           purge this region (purge.ts)
 *     POST /internal/purge/all?…       purge every region (fan-out)
 *     GET  /internal/origin-probe/<acct>  RTT/throughput to the account's origins (origin-probe.ts)
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { Hono } from 'hono';
import { edgeAccountFile } from '../../shared/accounts.js';
import { busy, notFound, PixmeshError } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { arrivals } from './server-timing.js';
import { errorResponse } from './errors.js';
import { requireInternalAuth } from './internal-auth.js';
import { log } from './log.js';
import { mediaRoutes } from './media/index.js';
import { purgeParams } from './purge.js';
import { originProbeRoutes } from './origin-probe.js';
import { renderRoutes } from './render.js';
import { replicaIdOf } from './region/members.js';
import { PEER_PURGE_PATH } from './region/index.js';
import { dropLocalCopies } from './purge.js';
import { buildServices, type OriginDeps, type RegionServices } from './services.js';
import { s3Client } from './sources/s3.js';

export type { OriginDeps, RegionServices } from './services.js';

interface Check {
  ok: boolean;
  detail?: string;
}

/** Readiness probes, each cached for a few seconds so /readyz stays cheap. */
function readiness(services: RegionServices) {
  let last: { at: number; storage: Check; s3: Check } | undefined;
  const probeStorage = async (): Promise<Check> => {
    const file = path.join(services.cache.dir, `.ready-${process.pid}`);
    try {
      await fsp.writeFile(file, 'ok');
      await fsp.rm(file, { force: true });
      return { ok: true };
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
  };
  const probeS3 = async (): Promise<Check> => {
    try {
      await s3Client(services.config.s3).send(new HeadBucketCommand({ Bucket: services.config.mediaBucket }), { abortSignal: AbortSignal.timeout(2_000) });
      return { ok: true };
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      // The bucket answering "not found / forbidden" still proves S3 is reachable.
      if (err.$metadata?.httpStatusCode && err.$metadata.httpStatusCode < 500) return { ok: true, detail: `media bucket: ${err.name ?? err.$metadata.httpStatusCode}` };
      return { ok: false, detail: String(err.name ?? e) };
    }
  };
  return async () => {
    if (!last || Date.now() - last.at > 3_000) {
      const [storage, s3] = await Promise.all([probeStorage(), probeS3()]);
      last = { at: Date.now(), storage, s3 };
    }
    const accounts = services.accounts.all().length;
    const checks = {
      accounts: { ok: accounts > 0, detail: `${accounts} loaded` },
      resultCache: last.storage,
      s3: last.s3,
      draining: { ok: !services.lifecycle.draining },
      shared: services.region.readiness(),
    };
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  };
}

export function createOriginApp(deps: OriginDeps | RegionServices): Hono & { services: RegionServices } {
  const services = 'metrics' in deps ? deps : buildServices(deps);
  const { config, metrics } = services;
  const replicaId = replicaIdOf(config.shared.replicaUrl);
  const app = new Hono();
  // The origin's one error mapper (origin/src/errors.ts); unknown routes get an ik-error too.
  app.onError((err, c) => errorResponse(c, err, config.region));
  app.notFound((c) => errorResponse(c, notFound('no such route'), config.region));

  // Access log + request metrics: one JSON line per request, with the edge's request id.
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    arrivals.set(c.req.raw, t0);
    await next();
    const route = c.req.path.startsWith('/internal/render/') ? 'render' : c.req.path.startsWith('/internal/purge') ? 'purge' : c.req.path.startsWith('/internal/') ? 'internal' : 'ops';
    const status = c.res.status;
    const regionCache = c.res.headers.get(H.regionCache);
    const cache =
      route !== 'render'
        ? 'none'
        : status === 304
          ? 'not-modified'
          : c.res.headers.get(H.failover)
            ? 'failover'
            : regionCache === 'HIT'
              ? 'hit'
              : regionCache === 'MISS'
                ? c.res.headers.get(H.processedBy) !== config.region
                  ? 'forward'
                  : 'miss'
                : 'error';
    metrics.requests.inc({ route, status: String(status), cache });
    metrics.requestDuration.observe({ route }, (performance.now() - t0) / 1000);
    if (route === 'render') c.res.headers.set(H.regionHitRatio, services.region.hitRatio().toFixed(3));
    c.res.headers.set(H.replica, replicaId);
    if (route !== 'ops' || status >= 500) {
      log.info('request', {
        requestId: c.req.header(H.requestId),
        method: c.req.method,
        path: c.req.path,
        status,
        cache,
        ms: Math.round((performance.now() - t0) * 10) / 10,
        hop: c.req.header(H.hop),
        error: c.res.headers.get(H.ikError) ?? undefined,
      });
    }
  });

  const ready = readiness(services);
  app.get('/healthz', (c) => c.json({ ok: true, region: config.region, pid: process.pid, replica: replicaId }));
  app.get('/readyz', async (c) => {
    const r = await ready();
    return c.json({ ...r, region: config.region, cache: services.cache.stats(), queue: { running: services.queue.running, waiting: services.queue.depth } }, r.ok ? 200 : 503);
  });
  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }));

  const internal = new Hono();
  internal.use('*', requireInternalAuth(config.internalSecret, config.region, services.nonces));
  // The edge reads the account directory from the regions (one source of truth: the account file), without storage secrets.
  internal.get('/internal/accounts', (c) => c.body(edgeAccountFile(services.accounts.all()), 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }));
  // Bounded work in flight: beyond it, answer 503 at once instead of queueing memory.
  internal.use('/internal/render/*', async (_c, next) => {
    if (services.inflight.count >= config.maxInflight) {
      metrics.queueRejected.inc();
      throw busy(`too many requests in flight (${services.inflight.count})`, 1, 503);
    }
    services.inflight.count++;
    metrics.inflight.set(services.inflight.count);
    try {
      await next();
    } finally {
      services.inflight.count--;
      metrics.inflight.set(services.inflight.count);
    }
  });
  internal.route('/', renderRoutes(services));
  internal.post('/internal/purge', async (c) => {
    const p = purgeParams(services, c.req.query('account'), c.req.query('path'), c.req.query('prefix'));
    return c.json(await services.purgeLocal(p.account, p.path, p.isPrefix));
  });
  // A peer replica took a purge and wrote its record: index it and drop our own copies now.
  internal.post(PEER_PURGE_PATH, async (c) => {
    const p = purgeParams(services, c.req.query('account'), c.req.query('path'), c.req.query('prefix'));
    const at = Number(c.req.query('at'));
    const id = c.req.query('id') ?? '';
    if (!Number.isFinite(at) || !/^[0-9a-f]{16}$/.test(id)) throw new PixmeshError(400, 'EBADTR', 'peer purge: bad at/id');
    services.region.learn({ account: p.account, path: p.path, prefix: p.isPrefix, at, id, by: c.req.query('by') });
    return c.json({ region: config.region, ...(await dropLocalCopies(services, p.account, p.path, p.isPrefix)) });
  });
  internal.post('/internal/purge/all', async (c) => {
    const p = purgeParams(services, c.req.query('account'), c.req.query('path'), c.req.query('prefix'));
    const report = await services.purgeVariants(p.account, p.path, p.isPrefix);
    return c.json(report, report.ok ? 200 : 502);
  });
  // The media library's internal API (origin/src/media): upload, list, details, delete, purge.
  internal.route('/', mediaRoutes(services));
  // This region's distance to an account's origins, for the home-region advice (origin/src/origin-probe.ts).
  internal.route('/', originProbeRoutes(services));
  app.route('/', internal);
  return Object.assign(app, { services });
}
