/**
 * The image route: parse + validate → verify signature → edge cache → pick a region → proxy
 * (failing over in the model's order within one deadline) → learn → cache.
 */
import { Hono, type Context } from 'hono';
import { RESERVED_ACCOUNT_IDS, type Account } from '../../shared/accounts.js';
import { negotiateEncoding, pathClass, wantsRaster, type Encoding } from '../../shared/delivery.js';
import { notFound, PixmeshError, upstreamFailed } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { AUTH_HEADER } from '../../shared/internal-auth.js';
import { internalFetch, InternalUnreachable } from '../../shared/internal-fetch.js';
import { parseRegionUrls, type RegionId } from '../../shared/regions.js';
import { decodeAccountSegment, parseImagePath } from '../../shared/request.js';
import { verifyImageUrlSignature } from '../../shared/signing.js';
import { clientHintsUsed, negotiateFormat, normaliseHints, parseTransformation } from '../../shared/transform/index.js';
import { loadAccounts } from './accounts.js';
import { deliver, type DeliveryOptions } from './delivery.js';
import { edgeCacheKey, readCached, storeInCache, type CachedLookup } from './edge-cache.js';
import type { Env } from './env.js';
import { readGeo } from './geo.js';
import { edgePurgedAt } from './edge-purge.js';
import { knownRegions, procFromServerTiming, routingState } from './routing-state.js';
import { routeServerTiming } from './routing/model.js';

const RESERVED_FIRST_SEGMENTS = new Set(RESERVED_ACCOUNT_IDS);
/** One deadline for the whole request, failovers included. */
const OVERALL_DEADLINE_MS = 20_000;
/** A single attempt may use at most this much of it, so a hung region leaves time to fail over. */
const ATTEMPT_TIMEOUT_MS = 12_000;

type ImageContext = Context<{ Bindings: Env }>;

/** Custom domain → account from Host; otherwise the first path segment names the account. */
async function resolveAccount(c: ImageContext, url: URL) {
  const accounts = await loadAccounts(c.env);
  const byHost = accounts.byHost(url.host);
  if (byHost) return { account: byHost, pathAfterAccount: url.pathname, urlEndpoint: url.origin, viaCustomDomain: true };
  const m = /^\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (!m || RESERVED_FIRST_SEGMENTS.has(m[1]!)) throw notFound('no such route');
  const id = decodeAccountSegment(m[1]!);
  const account = accounts.get(id);
  if (!account) throw notFound(`unknown account "${id}"`);
  return { account, pathAfterAccount: m[2] ?? '', urlEndpoint: `${url.origin}/${m[1]}`, viaCustomDomain: false };
}

function withEdgeHeaders(res: Response, cacheState: string, timing: string[], varyOn: string[], head: boolean): Response {
  const out = new Response(head ? null : res.body, res);
  out.headers.delete(AUTH_HEADER);
  out.headers.set(H.edgeCache, cacheState);
  out.headers.set('server-timing', timing.filter(Boolean).join(', '));
  if (varyOn.length) out.headers.set('vary', varyOn.join(', '));
  else out.headers.delete('vary');
  const hints = varyOn.filter((h) => h.startsWith('Sec-CH-'));
  if (hints.length) out.headers.set('accept-ch', hints.join(', '));
  return out;
}

export function imageRoutes(): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();

  app.on(['GET', 'HEAD'], '*', async (c) => {
    const started = Date.now();
    const head = c.req.method === 'HEAD';
    const url = new URL(c.req.url);
    const geo = readGeo(c.req.raw, c.env.PIXMESH_TRUST_GEO_HEADERS === 'true');
    const urls = parseRegionUrls(c.env.PIXMESH_REGION_URLS);
    const regions = knownRegions(urls);

    const { account, pathAfterAccount, urlEndpoint, viaCustomDomain } = await resolveAccount(c, url);
    const request = parseImagePath(account, pathAfterAccount, url.search);
    const plan = parseTransformation(request.tr, { namedTransforms: account.namedTransforms, namedOnly: account.namedOnly });
    // Signatures and expiry are checked before the cache, so an expired URL never hits.
    const signature = await verifyImageUrlSignature(account.privateKey, urlEndpoint, c.req.url, { required: account.signedUrls === 'required' });
    // Files other than raster images (by extension) are never format-negotiated (an SVG is rasterised
    // only with an explicit raster f-) and are served in the best encoding the client accepts;
    // ranges are served from the identity body.
    const kind = pathClass(request.path);
    const servedAsIs = kind === 'file' || (kind === 'svg' && !wantsRaster(plan));
    const { format, negotiated } = servedAsIs ? { format: 'source' as const, negotiated: false } : negotiateFormat(plan, c.req.header('accept'), account.defaults);
    const rangeHeader = c.req.header('range') ?? null;
    const negotiatedEncoding = kind === 'file' || kind === 'unknown' || servedAsIs;
    const encoding: Encoding = negotiatedEncoding && !rangeHeader ? negotiateEncoding(c.req.header('accept-encoding')) : 'identity';
    const delivery: DeliveryOptions = { head, range: rangeHeader, ifRange: c.req.header('if-range') ?? null, negotiatedEncoding, attachment: request.attachment };

    // Client hints count only where the plan reads them (w-auto, dpr-auto): then they are part of the key.
    const used = clientHintsUsed(plan);
    const hints = normaliseHints(
      used.dpr ? (c.req.header('sec-ch-dpr') ?? c.req.header('dpr')) : null,
      used.width ? (c.req.header('sec-ch-width') ?? c.req.header('width')) : null,
    );
    // Every request header that can change the bytes is in Vary: the legacy DPR / Width hints are read too.
    const varyOn = [negotiated ? 'Accept' : '', used.dpr ? 'Sec-CH-DPR' : '', used.dpr ? 'DPR' : '', used.width ? 'Sec-CH-Width' : '', used.width ? 'Width' : ''].filter(Boolean);
    const key = await edgeCacheKey({ account, request, plan, format, dpr: hints.dpr, width: hints.width, encoding });
    const cached: CachedLookup = await readCached(key, started, () => edgePurgedAt(c.env, account.id, request.path));
    if (cached.fresh) {
      return deliver(withEdgeHeaders(cached.fresh, 'HIT', [`edge-cache;desc="HIT"`, `edge;dur=${Date.now() - started}`], varyOn, false), delivery);
    }

    // Miss: rank regions by expected latency and try them in order within one deadline.
    await routingState.ensureLoaded(c.env, geo.colo ?? null);
    // Exploration first: it claims half-open trials (as probes), so the decision routes no user there.
    c.executionCtx.waitUntil(routingState.explore(urls, geo.colo ?? null, regions));
    const decision = routingState.decide(geo, account, viaCustomDomain, regions, Date.now(), key.url);
    const internalPath = `/internal/render/${encodeURIComponent(account.id)}${pathAfterAccount}${url.search}`;
    const base = new Headers();
    base.set(H.format, format);
    base.set(H.signed, signature.signed ? 'true' : 'false');
    base.set(H.encoding, encoding);
    if (hints.dpr !== undefined) base.set(H.dpr, String(hints.dpr));
    if (hints.width !== undefined) base.set(H.width, String(hints.width));
    base.set(H.requestId, c.req.header('cf-ray') ?? crypto.randomUUID());
    if (decision.location.colo) base.set(H.edgeColo, decision.location.colo);
    const deadline = started + OVERALL_DEADLINE_MS;
    const tried: string[] = [];
    let lastError: PixmeshError | undefined;

    for (const candidate of decision.candidates) {
      const region: RegionId = candidate.region;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      if (!routingState.takeAttemptLease(region) && !decision.allOpen) continue;
      tried.push(region);
      const t0 = Date.now();
      let res: Response;
      try {
        res = await internalFetch({
          secret: c.env.PIXMESH_INTERNAL_SECRET,
          baseUrl: urls[region],
          target: region,
          pathAndQuery: internalPath,
          headers: base,
          timeoutMs: Math.min(ATTEMPT_TIMEOUT_MS, remaining),
        });
      } catch (e) {
        if (!(e instanceof InternalUnreachable)) throw e;
        routingState.report({ region, result: e.timedOut ? 'timeout' : 'network-error' });
        lastError = upstreamFailed(`${region} ${e.timedOut ? 'timed out' : 'unreachable'}`, e.timedOut ? 504 : 502);
        continue;
      }
      const ttfb = Date.now() - t0;
      const requestScoped = res.status >= 500 && res.headers.get(H.errorScope) === 'request';
      routingState.report({
        region,
        result: res.status,
        colo: decision.location.colo,
        accountId: account.id,
        ttfbMs: ttfb,
        procMs: procFromServerTiming(res.headers.get('server-timing')),
        regionCache: res.headers.get(H.regionCache),
        regionHitRatio: res.headers.get(H.regionHitRatio),
        requestScopedError: requestScoped,
        variantKey: key.url,
        evidence: candidate.evidence,
        processedBy: res.headers.get(H.processedBy),
        home: account.homeRegion,
      });
      c.executionCtx.waitUntil(routingState.flush(c.env));
      // Another region would fail the same way on a request-scoped error: answer it, don't fail over.
      if (res.status >= 500 && !requestScoped) {
        lastError = new PixmeshError(res.status === 504 ? 504 : 502, 'EUPSTREAM', `${region} answered ${res.status}`);
        await res.body?.cancel();
        continue;
      }
      const timing = [
        `edge-cache;desc="${cached.stale ? 'STALE' : 'MISS'}"`,
        routeServerTiming(decision),
        tried.length > 1 ? `failover;desc="${tried.join('>')}"` : '',
        `origin;dur=${ttfb};desc="${region}"`,
        res.headers.get('server-timing') ?? '',
      ];
      const out = withEdgeHeaders(res, 'MISS', timing, varyOn, false);
      out.headers.set(H.region, res.headers.get(H.region) ?? region);
      // Strict residency: the account's bytes are stored nowhere outside its home region, edge caches included.
      const cacheable = account.residency !== 'strict' && !out.headers.get('cache-control')?.includes('private');
      if (res.ok && cacheable) {
        c.executionCtx.waitUntil(storeInCache(key, out.clone(), Date.now()));
      } else if (!res.ok) {
        out.headers.set('cache-control', 'public, max-age=10');
        if (cacheable && (res.status === 404 || res.status === 400)) c.executionCtx.waitUntil(storeInCache(key, out.clone(), Date.now(), 10));
      }
      return deliver(out, delivery);
    }

    // Every region failed: a stale copy beats an error.
    if (cached.stale) {
      return deliver(withEdgeHeaders(cached.stale, 'STALE', [`edge-cache;desc="STALE"`, `failover;desc="${tried.join('>') || 'none'}"`], varyOn, false), delivery);
    }
    throw lastError ?? upstreamFailed(decision.candidates.length ? 'no region could answer in time' : 'no region is allowed to serve this account', 503);
  });

  return app;
}
