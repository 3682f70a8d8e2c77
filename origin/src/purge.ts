/**
 * Purge: remove every cached variant of a path (or of every path under a prefix) — result cache
 * on disk and originals cache in memory. `purgeLocal` acts on this region; `createPurgeFanout`
 * returns `purgeVariants`, which calls every region's `POST /internal/purge` (signed like every
 * internal call, parameters in the signed query string) and this region directly.
 *
 *   POST /internal/purge?account=<id>&path=<path or prefix>[&prefix=true]
 *     → 200 {"region":"eu-central-1","results":3,"originals":1}
 *   POST /internal/purge/all?account=<id>&path=<…>[&prefix=true]   (fan-out from any region)
 *     → 200 {"ok":true,"regions":{"us-east-1":{"ok":true,"results":0,"originals":0},…}}
 *     → 502 with the same shape when a region could not be reached (ok:false, error).
 */
import { badRequest, PixmeshError } from '../../shared/errors.js';
import { EDGE_PURGE_PATH, EDGE_TARGET, internalError, internalFetch } from '../../shared/internal-fetch.js';
import type { RegionId } from '../../shared/regions.js';
import { log } from './log.js';
import type { LocalPurgeResult, PurgeReport, RegionPurge, RegionServices } from './services.js';



export type { LocalPurgeResult, PurgeReport, RegionPurge } from './services.js';

/** Normalise and validate purge parameters (throws 400/404 PixmeshError). */
export function purgeParams(services: Pick<RegionServices, 'accounts'>, account: string | undefined, path: string | undefined, prefix: string | undefined) {
  if (!account) throw badRequest('purge: "account" is required');
  if (!services.accounts.get(account)) throw new PixmeshError(404, 'ENOENT', `purge: unknown account "${account}"`);
  const isPrefix = prefix === 'true' || prefix === '1';
  const p = (path ?? '').replace(/^\/+/, '');
  if (!p && !isPrefix) throw badRequest('purge: "path" is required (or prefix=true to purge a whole prefix)');
  if (p.length > 4096) throw badRequest('purge: path too long');
  return { account, path: p, isPrefix };
}

/** This replica's own copies: work in flight is not stored or joined after it, disk L1, originals in memory. */
export async function dropLocalCopies(services: RegionServices, account: string, p: string, isPrefix: boolean): Promise<{ results: number; originals: number }> {
  services.purgeEpoch.value++;
  const results = await services.cache.purge(account, p, isPrefix);
  const originals = services.originals.purge(account, p, isPrefix);
  return { results, originals };
}

/**
 * The region's purge, taken by this replica: a purge record in the region's bucket (every replica
 * honours it, also one that is down now), the shared tier's copies, the live peers' L1s, this
 * replica's own copies (origin/src/region/).
 */
export async function purgeLocal(services: RegionServices, account: string, pathOrPrefix: string, isPrefix: boolean): Promise<LocalPurgeResult> {
  const p = pathOrPrefix.replace(/^\/+/, '');
  const region = await services.region.purge(account, p, isPrefix);
  const { results, originals } = await dropLocalCopies(services, account, p, isPrefix);
  log.info('purged', { account, path: p, prefix: isPrefix, results, originals, shared: region.shared, peers: region.peers });
  return { region: services.config.region, results, originals, shared: region.shared };
}

export function purgeQuery(account: string, pathOrPrefix: string, isPrefix: boolean): string {
  const q = new URLSearchParams({ account, path: pathOrPrefix.replace(/^\/+/, '') });
  if (isPrefix) q.set('prefix', 'true');
  return q.toString();
}

export function createPurgeFanout(services: RegionServices): (account: string, pathOrPrefix: string, isPrefix: boolean) => Promise<PurgeReport> {
  const { config } = services;
  const callRegion = async (region: RegionId, baseUrl: string, account: string, p: string, isPrefix: boolean): Promise<RegionPurge> => {
    if (region === config.region) {
      const r = await purgeLocal(services, account, p, isPrefix);
      return { ok: true, results: r.results, originals: r.originals };
    }
    const pathAndQuery = `/internal/purge?${purgeQuery(account, p, isPrefix)}`;
    let lastError: string;
    try {
      // Purging is idempotent: one retry after a transport failure or a 5xx.
      const res = await internalFetch({ secret: config.internalSecret, baseUrl, target: region, method: 'POST', pathAndQuery, timeoutMs: 5_000, retries: 1 });
      if (res.ok) {
        const body = (await res.json()) as { results: number; originals: number };
        return { ok: true, results: body.results, originals: body.originals };
      }
      lastError = `answered ${res.status} ${(await internalError(res, region)).ikError}`;
    } catch (e) {
      lastError = (e as Error).message;
    }
    log.warn('purge fan-out: region failed', { region, account, path: p, error: lastError });
    return { ok: false, error: lastError };
  };
  return async (account, pathOrPrefix, isPrefix) => {
    const p = pathOrPrefix.replace(/^\/+/, '');
    const entries = Object.entries(config.regionUrls) as [RegionId, string][];
    if (!entries.some(([r]) => r === config.region)) entries.push([config.region, '']);
    const results = await Promise.all(entries.map(async ([r, url]) => [r, await callRegion(r, url, account, p, isPrefix)] as const));
    const regions = Object.fromEntries(results) as PurgeReport['regions'];
    return { ok: results.every(([, r]) => r.ok), regions };
  };
}

/**
 * The edge, told of purged paths (POST /_internal/purge, edge/src/edge-purge.ts): the home
 * region's Purger calls it after the regions' fan-out; undefined without PIXMESH_EDGE_URL.
 */
export function edgePurgeNotifier(config: { internalSecret: string; media: { edgeUrl: string } }): ((account: string, items: { path: string; prefix: boolean }[]) => Promise<boolean>) | undefined {
  const baseUrl = config.media.edgeUrl.replace(/\/+$/, '');
  if (!baseUrl) return undefined;
  return async (account, items) => {
    const body = JSON.stringify({ account, items });
    const res = await internalFetch({ secret: config.internalSecret, baseUrl, target: EDGE_TARGET, method: 'POST', pathAndQuery: EDGE_PURGE_PATH, headers: new Headers({ 'content-type': 'application/json' }), body, timeoutMs: 5_000, retries: 1 });
    if (!res.ok) log.warn('purge: the edge refused', { account, status: res.status, error: (await internalError(res, EDGE_TARGET)).ikError });
    else await res.body?.cancel();
    return res.ok;
  };
}
