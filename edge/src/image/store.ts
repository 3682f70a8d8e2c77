/**
 * Phase "store": answer with what the region sent (and keep it in this colo's cache unless the
 * account's residency forbids it); when no region answered, a stale copy beats an error.
 */
import { H } from '../../../shared/headers.js';
import { accountKeyRevision, sameAccountRevision } from '../../../shared/cache-key.js';
import { upstreamFailed } from '../../../shared/errors.js';
import { deliver } from '../delivery.js';
import { storeInCache } from '../edge-cache.js';
import { routeServerTiming } from '../routing/model.js';
import type { ImagePhase } from './job.js';
import { withEdgeHeaders } from './respond.js';

export const store: ImagePhase = {
  name: 'store',
  run(job) {
    const { c, upstream, cached, tried, key } = job;
    if (!upstream) {
      // Every region failed: a stale copy beats an error.
      if (cached.stale) {
        return deliver(withEdgeHeaders(cached.stale, 'STALE', [`edge-cache;desc="STALE"`, `failover;desc="${tried.join('>') || 'none'}"`], job.varyOn, false), job.delivery);
      }
      throw job.lastError ?? upstreamFailed(job.decision.candidates.length ? 'no region could answer in time' : 'no region is allowed to serve this account', 503);
    }
    const { res, region, ttfbMs } = upstream;
    const timing = [
      `edge-cache;desc="${cached.stale ? 'STALE' : 'MISS'}"`,
      routeServerTiming(job.decision),
      tried.length > 1 ? `failover;desc="${tried.join('>')}"` : '',
      `origin;dur=${ttfbMs};desc="${region}"`,
      res.headers.get('server-timing') ?? '',
    ];
    // Rendered under another revision of the account than this isolate's (each process reloads the
    // account file on its own): served, but not stored under this key (shared/headers.ts accountRev).
    const rev = res.headers.get(H.accountRev);
    const sameAccount = sameAccountRevision(rev, job.account);
    if (!sameAccount) timing.push(`edge-store;desc="account revision ${rev} is not ${accountKeyRevision(job.account)}: not stored"`);
    const out = withEdgeHeaders(res, 'MISS', timing, job.varyOn, false);
    out.headers.set(H.region, res.headers.get(H.region) ?? region);
    // Strict residency: the account's bytes are stored nowhere outside its home region, edge caches included.
    const cacheable = sameAccount && job.account.residency !== 'strict' && !out.headers.get('cache-control')?.includes('private');
    if (res.ok && cacheable) {
      c.executionCtx.waitUntil(storeInCache(key, out.clone(), Date.now()));
    } else if (!res.ok) {
      out.headers.set('cache-control', 'public, max-age=10');
      if (cacheable && (res.status === 404 || res.status === 400)) c.executionCtx.waitUntil(storeInCache(key, out.clone(), Date.now(), 10));
    }
    return deliver(out, job.delivery);
  },
};
