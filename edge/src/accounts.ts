/**
 * The edge's view of the account directory. The account file lives with the regions; the edge
 * reads it over the signed internal API and keeps it for a short while per isolate (a stale
 * copy is used when no region answers). Tests may inline it as PIXMESH_ACCOUNTS_JSON.
 */
import { AccountIndex } from '../../shared/accounts.js';
import { upstreamFailed } from '../../shared/errors.js';
import { internalFetch } from '../../shared/internal-fetch.js';
import { parseRegionUrls } from '../../shared/regions.js';
import type { Env } from './env.js';

/** Short, so configuration changed through the API (origin/src/account-config.ts) is seen within seconds. */
const TTL_MS = 5_000;
let cached: { index: AccountIndex; at: number; source: string } | undefined;
/** The region asked first on the next read (the home region of a change made through this isolate). */
let preferred: string | undefined;

/**
 * Drop this isolate's copy (after a configuration change made through it); a stale copy is kept
 * for outages. `fromRegion` (the changed account's home, which applied it at once) is asked first.
 */
export function forgetAccounts(fromRegion?: string): void {
  if (cached && cached.source === 'regions') cached = { ...cached, at: 0 };
  preferred = fromRegion;
}

export async function loadAccounts(env: Env): Promise<AccountIndex> {
  if (env.PIXMESH_ACCOUNTS_JSON) {
    if (!cached || cached.source !== env.PIXMESH_ACCOUNTS_JSON) cached = { index: AccountIndex.fromJson(env.PIXMESH_ACCOUNTS_JSON), at: Date.now(), source: env.PIXMESH_ACCOUNTS_JSON };
    return cached.index;
  }
  if (cached && Date.now() - cached.at < TTL_MS) return cached.index;
  const urls = parseRegionUrls(env.PIXMESH_REGION_URLS);
  let lastError = '';
  const order = Object.keys(urls).sort((a, b) => Number(b === preferred) - Number(a === preferred));
  for (const region of order) {
    const base = urls[region as keyof typeof urls];
    if (!base) continue;
    try {
      const res = await internalFetch({ secret: env.PIXMESH_INTERNAL_SECRET, baseUrl: base, target: region, pathAndQuery: '/internal/accounts', timeoutMs: 2000 });
      if (!res.ok) {
        await res.body?.cancel();
        lastError = `${region} answered ${res.status}`;
        continue;
      }
      const text = await res.text();
      cached = { index: AccountIndex.fromJson(text), at: Date.now(), source: 'regions' };
      // Until the TTL ends: by then every region has polled the change.
      return cached.index;
    } catch (e) {
      lastError = `${region}: ${(e as Error).message}`;
    }
  }
  if (cached) return cached.index;
  throw upstreamFailed(`account directory unavailable (${lastError || 'no regions configured'})`, 503);
}
