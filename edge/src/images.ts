/**
 * The image route: parse + validate → edge cache → pick a region → proxy (with failover) → cache.
 */
import { Hono } from 'hono';
import type { Account } from '../../shared/accounts.js';
import { notFound, PixmeshError, upstreamFailed } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { AUTH_HEADER, signInternalRequest } from '../../shared/internal-auth.js';
import { parseRegionUrls, type RegionId } from '../../shared/regions.js';
import { parseImagePath } from '../../shared/request.js';
import { canonicalTransformation, negotiateFormat, parseTransformation } from '../../shared/transform/index.js';
import { loadAccounts } from './accounts.js';
import type { Env } from './env.js';
import { readGeo } from './geo.js';
import { regionsByDistance } from './pick-region.js';

const RESERVED_FIRST_SEGMENTS = new Set(['api', 'v1', 'internal']);
const ERROR_TTL_S = 10;

/** A cache key is a URL; it is built from the canonical request, never from the raw URL or raw Accept. */
async function edgeCacheKey(parts: string[]): Promise<Request> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(parts.join('\n')));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return new Request(`https://edge-cache.pixmesh.internal/${hex}`);
}

export function imageRoutes(): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();

  app.on(['GET', 'HEAD'], '*', async (c) => {
    const started = Date.now();
    const url = new URL(c.req.url);
    const geo = readGeo(c.req.raw, c.env.PIXMESH_TRUST_GEO_HEADERS === 'true');
    const ranked = regionsByDistance(geo);
    const accounts = await loadAccounts(c.env, ranked);

    // Custom domain → account from Host; otherwise the first path segment names the account.
    let account: Account | undefined = accounts.byHost(url.host);
    let pathAfterAccount = url.pathname;
    if (!account) {
      const m = /^\/([^/]+)(\/.*)?$/.exec(url.pathname);
      if (!m || RESERVED_FIRST_SEGMENTS.has(m[1]!)) throw notFound('no such route');
      account = accounts.get(decodeURIComponent(m[1]!));
      if (!account) throw notFound(`unknown account "${decodeURIComponent(m[1]!)}"`);
      pathAfterAccount = m[2] ?? '';
    }
    const request = parseImagePath(account, pathAfterAccount, url.search);
    const plan = parseTransformation(request.tr, { namedTransforms: account.namedTransforms, namedOnly: account.namedOnly });
    const { format, negotiated } = negotiateFormat(plan, c.req.header('accept'), account.defaults);

    const key = await edgeCacheKey([
      account.id,
      request.endpoint.prefix,
      request.path,
      new URLSearchParams(request.extraQuery).toString(),
      canonicalTransformation(plan),
      `f=${format}`,
    ]);
    const cache = (caches as unknown as { default: Cache }).default;
    const hit = await cache.match(key);
    if (hit) {
      const res = new Response(c.req.method === 'HEAD' ? null : hit.body, hit);
      res.headers.set(H.edgeCache, 'HIT');
      res.headers.set('server-timing', `edge-cache;desc="HIT", edge;dur=${Date.now() - started}`);
      return res;
    }

    // Miss: try regions nearest-first within one deadline.
    const urls = parseRegionUrls(c.env.PIXMESH_REGION_URLS);
    const internalPath = `/internal/render/${encodeURIComponent(account.id)}${pathAfterAccount}${url.search}`;
    const headers = new Headers();
    headers.set(H.format, format);
    headers.set(H.signed, 'false');
    headers.set(H.requestId, crypto.randomUUID());
    let lastError: unknown;
    for (const region of ranked as RegionId[]) {
      const base = urls[region];
      if (!base) continue;
      const attempt = new Headers(headers);
      attempt.set(AUTH_HEADER, await signInternalRequest(c.env.PIXMESH_INTERNAL_SECRET, 'GET', internalPath, attempt));
      const t0 = Date.now();
      let res: Response;
      try {
        res = await fetch(base + internalPath, { headers: attempt, signal: AbortSignal.timeout(15_000) });
      } catch (e) {
        lastError = upstreamFailed(`${region}: ${(e as Error).message}`);
        continue;
      }
      if (res.status >= 500) {
        lastError = upstreamFailed(`${region} answered ${res.status}`);
        await res.body?.cancel();
        continue;
      }
      const out = new Response(res.body, res);
      out.headers.delete(AUTH_HEADER);
      out.headers.set(H.edgeCache, 'MISS');
      out.headers.set(H.region, res.headers.get(H.region) ?? region);
      out.headers.set(
        'server-timing',
        [`edge-cache;desc="MISS"`, `route;desc="${region}"`, `origin;dur=${Date.now() - t0}`, res.headers.get('server-timing') ?? '']
          .filter(Boolean)
          .join(', '),
      );
      if (negotiated) out.headers.set('vary', 'Accept');
      if (res.ok) {
        c.executionCtx.waitUntil(cache.put(key, out.clone()));
      } else {
        out.headers.set('cache-control', `public, max-age=${ERROR_TTL_S}`);
      }
      return c.req.method === 'HEAD' ? new Response(null, out) : out;
    }
    throw lastError instanceof PixmeshError ? lastError : upstreamFailed('no region could answer');
  });

  return app;
}
