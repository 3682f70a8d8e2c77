/**
 * GET /internal/render/<account>/<path as in the public URL>?<query>
 * The region's answer to one image request: its own result cache, else the home region (forward),
 * else — at home, or when home is down and residency allows — originals → pipeline → cache.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { Account } from '../../shared/accounts.js';
import { notFound, PixmeshError, unauthorized } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { parseImagePath, type ImageRequest } from '../../shared/request.js';
import { canonicalTransformation, parseTransformation, type NegotiatedFormat, type TransformPlan } from '../../shared/transform/index.js';
import type { AccountDirectory } from './accounts.js';
import type { ResultCache, CacheEntry } from './cache/result-cache.js';
import type { OriginConfig } from './config.js';
import { forwardToHome, HomeUnreachable } from './forward.js';
import { renderImage } from './pipeline/index.js';
import { ServerTiming } from './server-timing.js';
import { fetchOriginal } from './sources/index.js';

export interface RenderDeps {
  config: OriginConfig;
  accounts: AccountDirectory;
  cache: ResultCache;
}

const FORMATS: NegotiatedFormat[] = ['jpeg', 'png', 'webp', 'avif', 'gif', 'source'];
const LONG_CACHE = 'public, max-age=31536000, s-maxage=31536000';

interface Variant {
  account: Account;
  request: ImageRequest;
  plan: TransformPlan;
  format: NegotiatedFormat;
  dpr?: number;
  widthHint?: number;
  signed: boolean;
  key: string;
}

function readVariant(deps: RenderDeps, url: URL, headers: Headers): Variant {
  const m = /^\/internal\/render\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (!m) throw notFound('no account in the path');
  const account = deps.accounts.get(decodeURIComponent(m[1]!));
  if (!account) throw notFound(`unknown account "${decodeURIComponent(m[1]!)}"`);
  const request = parseImagePath(account, m[2] ?? '', url.search);
  const plan = parseTransformation(request.tr, { namedTransforms: account.namedTransforms, namedOnly: account.namedOnly });
  const rawFormat = headers.get(H.format) ?? 'source';
  if (!FORMATS.includes(rawFormat as NegotiatedFormat)) throw new PixmeshError(400, 'EBADTR', `bad ${H.format} "${rawFormat}"`);
  const format = rawFormat as NegotiatedFormat;
  const dpr = headers.get(H.dpr) ? Number(headers.get(H.dpr)) : undefined;
  const widthHint = headers.get(H.width) ? Number(headers.get(H.width)) : undefined;
  const key = [
    account.id,
    request.endpoint.prefix,
    request.path,
    new URLSearchParams(request.extraQuery).toString(),
    canonicalTransformation(plan),
    `f=${format}`,
    `dpr=${dpr ?? ''}`,
    `w=${widthHint ?? ''}`,
  ].join('\n');
  return { account, request, plan, format, dpr, widthHint, signed: headers.get(H.signed) === 'true', key };
}

function imageResponse(entry: CacheEntry, region: string, cacheState: 'HIT' | 'MISS', timing: ServerTiming, extra: Record<string, string> = {}): Response {
  return new Response(new Uint8Array(entry.body), {
    status: 200,
    headers: {
      'content-type': entry.meta.contentType,
      'content-length': String(entry.body.length),
      etag: entry.meta.etag,
      'cache-control': entry.meta.isPrivate ? 'private, max-age=3600' : LONG_CACHE,
      [H.region]: region,
      [H.regionCache]: cacheState,
      [H.processedBy]: entry.meta.processedBy ?? region,
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
      'server-timing': timing.header(),
      ...extra,
    },
  });
}

export function renderRoutes(deps: RenderDeps): Hono {
  const app = new Hono();
  app.get('/internal/render/*', async (c) => {
    const { config, cache } = deps;
    const timing = new ServerTiming();
    timing.add('region', undefined, config.region);
    const url = new URL(c.req.url);
    const v = readVariant(deps, url, c.req.raw.headers);
    const isHome = v.account.homeRegion === config.region;
    const forwarded = c.req.header(H.hop) !== undefined;
    const mayStoreHere = isHome || v.account.residency === 'flexible';

    const hit = mayStoreHere ? await timing.time('cache', () => cache.get(v.key), 'lookup') : null;
    if (hit) {
      if (hit.meta.isPrivate && !v.signed) throw unauthorized('this file is private: it needs a signed URL');
      return imageResponse(hit, config.region, 'HIT', timing);
    }

    let failover = false;
    if (!isHome && !forwarded) {
      try {
        const res = await timing.time('forward', () => forwardToHome(deps, url, c.req.raw.headers), v.account.homeRegion);
        const meta = { ...res.meta, path: v.request.path };
        if (mayStoreHere) await timing.time('store', () => cache.put(v.key, meta, res.body));
        const entry: CacheEntry = { meta: { ...meta, bodyLength: res.body.length }, body: res.body };
        return imageResponse(entry, config.region, 'MISS', timing);
      } catch (e) {
        if (!(e instanceof HomeUnreachable) || v.account.residency === 'strict') throw e instanceof HomeUnreachable ? e.asError() : e;
        failover = true;
      }
    }

    const original = await timing.time('fetch', () =>
      fetchOriginal({ account: v.account, endpoint: v.request.endpoint, path: v.request.path, maxBytes: 40 * 1024 * 1024 }, config),
    );
    if (original.isPrivate && !v.signed) throw unauthorized('this file is private: it needs a signed URL');
    const out = await timing.time<{ data: Buffer; contentType: string; width?: number; height?: number }>('transform', () =>
      v.plan.original
        ? Promise.resolve({ data: original.body, contentType: original.contentType ?? 'application/octet-stream', width: undefined, height: undefined })
        : renderImage(original.body, v.plan, { format: v.format, dpr: v.dpr, widthHint: v.widthHint, defaults: v.account.defaults }),
    );
    const meta = {
      contentType: out.contentType,
      etag: `"${createHash('sha1').update(out.data).digest('hex')}"`,
      account: v.account.id,
      path: v.request.path,
      width: out.width,
      height: out.height,
      processedBy: config.region,
      isPrivate: original.isPrivate,
      createdAt: Date.now(),
    };
    await timing.time('store', () => cache.put(v.key, meta, out.data));
    return imageResponse({ meta: { ...meta, bodyLength: out.data.length }, body: out.data }, config.region, 'MISS', timing, failover ? { [H.failover]: 'home-unreachable' } : {});
  });
  return app;
}

