/**
 * The edge cache (Cache API, per colo). Keys are the shared variant key (shared/cache-key.ts, the
 * same one the regions use: account and its defaults, endpoint, path, cache-busting query,
 * canonical transformation, negotiated format, used client hints) — never the raw URL or Accept.
 *
 * Stale-if-error, which the Cache API lacks: entries are kept for a long retention period, and
 * carry the time they were stored; past their freshness they are revalidated against a region,
 * and served as STALE only when every region fails.
 */
import { cacheKeyDigest, variantCacheKey, type VariantIdentity } from '../../shared/cache-key.js';

/** How long a cached 200 is served without asking a region again. */
export const FRESH_TTL_S = 7 * 24 * 3600;
/** How long it is kept as a stale fallback. */
export const RETAIN_TTL_S = 365 * 24 * 3600;
const STORED_AT = 'x-pixmesh-stored-at';
const FRESH_FOR = 'x-pixmesh-fresh-for';
/** The region's own Cache-Control, given back to clients when the entry is served. */
const REGION_CC = 'x-pixmesh-region-cache-control';

/** Seconds from a Cache-Control value (s-maxage first, then max-age); undefined when neither. */
export function sharedMaxAge(cc: string | null): number | undefined {
  if (!cc) return undefined;
  const m = /(?:^|,)\s*s-maxage\s*=\s*(\d+)/i.exec(cc) ?? /(?:^|,)\s*max-age\s*=\s*(\d+)/i.exec(cc);
  return m ? Number(m[1]) : undefined;
}

const cache = () => (caches as unknown as { default: Cache }).default;

/** The Cache API key of a variant: the shared cache key (shared/cache-key.ts), hashed into a URL. */
export async function edgeCacheKey(variant: VariantIdentity): Promise<Request> {
  const digest = await cacheKeyDigest(variantCacheKey(variant));
  return new Request(`https://edge-cache.pixmesh.internal/${encodeURIComponent(variant.account.id)}/${digest}`);
}

export interface CachedLookup {
  fresh?: Response;
  stale?: Response;
}

/** A stored entry as the Cache API gave it (its headers are immutable), and whether it is still fresh. */
export interface CachedEntry {
  hit: Response;
  fresh: boolean;
}

/**
 * `purgedAt`: the newest purge (ms) that covers this entry's path; an entry stored at or before
 * it is gone — deleted, and not even a stale fallback.
 */
export async function lookupCached(key: Request, now: number, purgedAt: () => Promise<number> = async () => 0): Promise<CachedEntry | undefined> {
  const hit = await cache().match(key);
  if (!hit) return undefined;
  const storedAt = Number(hit.headers.get(STORED_AT) ?? 0);
  if (storedAt <= (await purgedAt())) {
    await hit.body?.cancel();
    await cache().delete(key);
    return undefined;
  }
  const freshFor = Number(hit.headers.get(FRESH_FOR) ?? FRESH_TTL_S);
  return { hit, fresh: now - storedAt <= freshFor * 1000 };
}

/** A copy of an entry's headers as the region sent them: its own Cache-Control back, the edge's bookkeeping headers gone. */
export function cleanHeaders(hit: Response): Headers {
  const headers = new Headers(hit.headers);
  const regionCc = hit.headers.get(REGION_CC);
  if (regionCc) headers.set('cache-control', regionCc);
  headers.delete(REGION_CC);
  headers.delete(STORED_AT);
  headers.delete(FRESH_FOR);
  return headers;
}

/** The entry as a Response with clean headers (cleanHeaders), as fresh or as a stale fallback. */
export function cachedResponse(entry: CachedEntry): CachedLookup {
  const { hit } = entry;
  const clean = new Response(hit.body, { status: hit.status, statusText: hit.statusText, headers: cleanHeaders(hit) });
  return entry.fresh ? { fresh: clean } : { stale: clean };
}

export async function readCached(key: Request, now: number, purgedAt?: () => Promise<number>): Promise<CachedLookup> {
  const entry = await lookupCached(key, now, purgedAt);
  return entry ? cachedResponse(entry) : {};
}

export async function storeInCache(key: Request, res: Response, now: number, freshForS = FRESH_TTL_S): Promise<void> {
  const copy = new Response(res.body, res);
  // The region's TTL bounds the edge's for every non-canonical answer (a di- default image, a 404,
  // an error): after the real file is uploaded, the placeholder is gone within the region's TTL.
  const regionCc = res.headers.get('cache-control');
  const regionTtl = sharedMaxAge(regionCc);
  const freshFor = Math.min(freshForS, regionTtl ?? freshForS);
  const canonical = res.status === 200 && freshFor >= FRESH_TTL_S;
  copy.headers.set(STORED_AT, String(now));
  copy.headers.set(FRESH_FOR, String(freshFor));
  if (regionCc) copy.headers.set(REGION_CC, regionCc);
  // The Cache API honours Cache-Control: keep canonical 200s for the retention period (stale
  // fallback), anything else only as long as it is fresh.
  copy.headers.set('cache-control', `public, max-age=${canonical ? RETAIN_TTL_S : freshFor}`);
  copy.headers.delete('set-cookie');
  // The key already holds the negotiated format; Vary is put back per request when serving.
  copy.headers.delete('vary');
  await cache().put(key, copy);
}

export async function deleteFromCache(key: Request): Promise<boolean> {
  return cache().delete(key);
}
