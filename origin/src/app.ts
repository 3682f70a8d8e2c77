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
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { Hono } from 'hono';
import { edgeAccountFile } from '../../shared/accounts.js';
import { busy, notFound, PixmeshError } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { arrivals, renderOutcomes } from './server-timing.js';
import { errorResponse } from './errors.js';
import { requireInternalAuth } from './internal-auth.js';
import { NONCE_CLAIM_PATH, RegionNonces } from './region/nonces.js';
import { log } from './log.js';
import { mediaRoutes } from './media/index.js';
import { UsageMeter } from './media/usage.js';
import { purgeParams } from './purge.js';
import { originProbeRoutes } from './origin-probe.js';
import { renderRoutes } from './render.js';
import { replicaIdOf } from './region/members.js';
import { peerFetch, PEER_HEADER } from './region/peers.js';
import { mediaRouteKey } from '../../shared/rendezvous.js';
import { InternalUnreachable } from '../../shared/internal-fetch.js';
import { PEER_PURGE_PATH } from './region/index.js';
import { dropLocalCopies } from './purge.js';
import { buildServices } from './build-services.js';
import { hitListener } from './hit-path.js';
import type { OriginDeps, RegionServices } from './services.js';
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

/** How a render response without a recorded outcome (an error, a peer's answer passed on) was served, from its headers. */
function renderCacheOf(res: Response, status: number, region: string): string {
  if (status === 304) return 'not-modified';
  if (res.headers.get(H.failover)) return 'failover';
  const regionCache = res.headers.get(H.regionCache);
  if (regionCache === 'HIT') return 'hit';
  if (regionCache === 'MISS') return res.headers.get(H.processedBy) !== region ? 'forward' : 'miss';
  return 'error';
}

export interface OriginApp extends Hono {
  services: RegionServices;
  /** The Node listener to serve with: prepared region-cache hits first (hit-path.ts), everything else through `app`. */
  listener(next: (req: IncomingMessage, res: ServerResponse) => unknown): (req: IncomingMessage, res: ServerResponse) => void;
}

export function createOriginApp(deps: OriginDeps | RegionServices): OriginApp {
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
    // A render answer says how it was served (render.ts) and carries its replica and hit-ratio
    // headers already: its response headers are neither parsed back nor rebuilt here.
    const outcome = route === 'render' ? renderOutcomes.get(c.req.raw) : undefined;
    const cache = outcome?.cache ?? (route !== 'render' ? 'none' : renderCacheOf(c.res, status, config.region));
    metrics.requests.inc({ route, status: String(status), cache });
    metrics.requestDuration.observe({ route }, (performance.now() - t0) / 1000);
    if (!outcome) {
      // A response passed on from another process (a peer replica's answer) may have immutable headers.
      try {
        c.res.headers.set(H.replica, replicaId);
      } catch {
        c.res = new Response(c.res.body, c.res);
        c.res.headers.set(H.replica, replicaId);
      }
      if (route === 'render') c.res.headers.set(H.regionHitRatio, services.region.hitRatio().toFixed(3));
    }
    if (route !== 'ops' || status >= 500) {
      log.info('request', {
        requestId: c.req.header(H.requestId),
        method: c.req.method,
        path: c.req.path,
        status,
        cache,
        ms: Math.round((performance.now() - t0) * 10) / 10,
        hop: c.req.header(H.hop),
        error: outcome ? undefined : (c.res.headers.get(H.ikError) ?? undefined),
      });
    }
  });

  const ready = readiness(services);
  app.get('/healthz', (c) => c.json({ ok: true, region: config.region, pid: process.pid, replica: replicaId }));
  app.get('/readyz', async (c) => {
    const r = await ready();
    // writesBehind: result-cache writes still landing after their responses (L1 files, shared tier).
    return c.json({ ...r, region: config.region, cache: services.cache.stats(), writesBehind: services.writes.size, queue: { running: services.queue.running, waiting: services.queue.depth } }, r.ok ? 200 : 503);
  });
  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }));

  // Nonces are refused on replay by the whole region (origin/src/region/nonces.ts). A peer's claim
  // is checked by this replica's memory only, before the region-wide check (no claims about claims).
  const nonces = new RegionNonces(services.region, config.internalSecret, config.shared.peerTimeoutMs, config.region, services.nonces);
  app.post(NONCE_CLAIM_PATH, requireInternalAuth(config.internalSecret, config.region, nonces.local), async (c) => {
    const n = c.req.query('n') ?? '';
    const by = c.req.query('by') ?? '';
    if (!/^[0-9a-f]{8,64}$/.test(n) || !/^https?:\/\//.test(by)) throw new PixmeshError(400, 'EBADREQ', 'nonce claim: bad n or by');
    const fresh = await nonces.take(n, by);
    return c.json({ fresh }, fresh ? 200 : 409);
  });
  const internal = new Hono();
  internal.use('*', requireInternalAuth(config.internalSecret, config.region, nonces));
  // The edge reads the account directory from the regions (one source of truth: the account file), without storage secrets.
  internal.get('/internal/accounts', (c) => c.body(edgeAccountFile(services.accounts.all()), 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }));
  // Usage: bytes answered to the edge per account and day (origin/src/media/usage.ts).
  const usage = new UsageMeter(config, services.accounts);
  internal.use('/internal/render/*', usage.middleware());
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
  // One writer per account's media library: a media call for an account this replica does not
  // own (rendezvous hashing over the live replicas, like the balancer) goes to its owner, so the
  // commit lock, the used-token memory and the record index are the owner's. An owner that refuses
  // the connection is suspected and the call served here; once a call reached it, its answer is final.
  internal.use('/internal/media/*', async (c, next) => {
    const key = c.req.header(PEER_HEADER) === undefined ? mediaRouteKey(c.req.path) : null;
    const owner = key ? services.region.ownerOf(key) : null;
    if (!owner) return next();
    const url = new URL(c.req.url);
    const headers = new Headers();
    for (const [k, v] of c.req.raw.headers) if (!['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)) headers.set(k, v);
    const hasBody = c.req.method !== 'GET' && c.req.method !== 'HEAD';
    try {
      const res = await peerFetch(config.internalSecret, owner, c.req.method, url.pathname + url.search, {
        headers,
        // Read whole (the signature covers its digest); the local fallback reads the original.
        body: hasBody ? new Uint8Array(await c.req.raw.clone().arrayBuffer()) : undefined,
        timeoutMs: Math.max(30_000, config.shared.peerTimeoutMs),
        self: services.region.members.self,
        region: config.region,
      });
      return new Response(res.body, { status: res.status, headers: res.headers });
    } catch (e) {
      const refused = e instanceof InternalUnreachable && /ECONNREFUSED|EHOSTUNREACH|ENOTFOUND/.test(e.detail);
      if (!refused) throw new PixmeshError(502, 'EUPSTREAM', `the account's owner replica failed mid-call: ${(e as Error).message}`);
      services.region.members.suspect(owner);
      return next();
    }
  });
  const media = mediaRoutes({ ...services, tokens: services.region.tokens }, undefined, usage);
  // Owners moved: records another replica wrote meanwhile must be read again.
  services.region.members.onChange = () => media.store.forgetIndexes();
  // fo-custom reads the file's saved focus area from the media library (home region; elsewhere: none → centre)
  // records hold "/a/b.jpg"; a request's path is "a/b.jpg" (no leading slash)
  services.customCoordinates = async (account, path) => (await media.store.byPath(account, `/${path.replace(/^\/+/, '')}`).catch(() => undefined))?.customCoordinates;
  internal.route('/', media);
  // This region's distance to an account's origins, for the home-region advice (origin/src/origin-probe.ts).
  internal.route('/', originProbeRoutes(services));
  app.route('/', internal);
  return Object.assign(app, { services, listener: (next: (req: IncomingMessage, res: ServerResponse) => unknown) => hitListener(services, { nonces, usage, replica: replicaId }, next) });
}
