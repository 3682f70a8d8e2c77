/**
 * Region → home region: the same render call, signed with the internal secret and marked as a
 * hop so the home region never forwards again. Errors the home region decided (4xx) pass
 * through; an unreachable or failing home region is reported as HomeUnreachable so the caller
 * can fail over where residency allows.
 */
import { parseIkError, PixmeshError, upstreamFailed } from '../../shared/errors.js';
import { internalError, internalFetch, InternalUnreachable } from '../../shared/internal-fetch.js';
import { H } from '../../shared/headers.js';
import { decodeAccountSegment } from '../../shared/request.js';
import { SIGNED_HEADERS } from '../../shared/internal-auth.js';
import { parseBudgetMs, passOnBudget } from '../../shared/deadlines.js';
import { BreakerSet, type AttemptOutcome } from '../../shared/breaker.js';
import type { CachedMeta } from './cache/result-cache.js';
import type { RegionId } from '../../shared/regions.js';
import type { RegionServices } from './services.js';

export class HomeUnreachable extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
    /** A connection failure or timeout (counts against the breaker), not an answer. */
    readonly network = false,
  ) {
    super(message);
  }
  asError(): PixmeshError {
    return upstreamFailed(`home region unreachable: ${this.message}`, this.timedOut ? 504 : 502);
  }
}

/**
 * The breakers in front of home regions (shared/breaker.ts), so a home region that hangs (no
 * answer until the forward timeout) costs one timeout, not one per miss: after a connection
 * failure or timeout the home region is skipped (fail over at once, or refuse at once for strict
 * accounts) for a cool-down that doubles with each failed trial (1 s … 30 s); then one trial call
 * goes through. Only transport failures count: any answer proves the region alive.
 */
export function homeBreakers(forwardTimeoutMs: number, now: () => number = Date.now, coolDownMs = 1_000): BreakerSet {
  return new BreakerSet({ failureThreshold: 1, coolDownMs, maxCoolDownMs: Math.max(coolDownMs, 30_000), trialLeaseMs: 2 * forwardTimeoutMs }, now);
}

/** The breaker outcome of a forward: only a transport failure or timeout counts against home. */
export const forwardOutcome = (err: unknown): AttemptOutcome => (err instanceof HomeUnreachable && err.network ? 'failure' : 'success');

export interface ForwardResult {
  body: Buffer;
  meta: Omit<CachedMeta, 'bodyLength'>;
  /** Set when the home region answered with a di- default image (not stored in result caches). */
  defaultImage?: string;
  /** The answerer's x-pixmesh-region-cache (a peer replica's HIT is a hit of this region). */
  regionCache?: string;
  /** The answerer processed the image itself because home was unreachable. */
  failover?: boolean;
  /** The account revision the answerer rendered under (H.accountRev); stored here only when it is this process's own. */
  accountRev?: string;
}

export async function forwardToHome(
  deps: Pick<RegionServices, 'config' | 'accounts'> & { homeBreaker?: BreakerSet },
  url: URL,
  incoming: Headers,
): Promise<ForwardResult> {
  const accountId = decodeAccountSegment(url.pathname.split('/')[3] ?? '');
  const account = deps.accounts.get(accountId);
  if (!account) throw new PixmeshError(404, 'ENOENT', `unknown account "${accountId}"`);
  const breaker = deps.homeBreaker;
  const skip = breaker?.takeAttemptLease(account.homeRegion);
  if (skip) throw new HomeUnreachable(skip);
  try {
    const res = await callHome(deps, account, url, incoming);
    breaker?.record(account.homeRegion, 'success');
    return res;
  } catch (e) {
    breaker?.record(account.homeRegion, forwardOutcome(e));
    throw e;
  }
}

async function callHome(
  deps: Pick<RegionServices, 'config'>,
  account: { id: string; homeRegion: RegionId },
  url: URL,
  incoming: Headers,
): Promise<ForwardResult> {
  const { config } = deps;
  const homeUrl = config.regionUrls[account.homeRegion];
  if (!homeUrl) throw new HomeUnreachable(`no URL configured for ${account.homeRegion}`);
  // Home answers within what this forward waits, and never later than our own caller allowed
  // (shared/deadlines.ts). A peer replica, by contrast, keeps the caller's budget: when it is slow
  // the asker renders itself, and the owner's answer still lands in the shared tier.
  const budget = passOnBudget(parseBudgetMs(incoming.get(H.budget)), config.forwardTimeoutMs);
  return callRender(config, homeUrl, account.homeRegion, account, url, incoming, { [H.hop]: config.region, [H.budget]: String(budget) }, config.forwardTimeoutMs);
}

/**
 * One signed render call to another origin — the home region (a hop) or a peer replica of this
 * region (origin/src/region/) — read into bytes + cache metadata. `answerer` is the region the
 * target serves: its decided 5xx (request-scoped, or with an ik-error other than EBUSY) is final;
 * an unreachable or overloaded target is HomeUnreachable, so the caller can do the work itself.
 */
export async function callRender(
  config: Pick<RegionServices['config'], 'internalSecret'>,
  baseUrl: string,
  answerer: RegionId,
  account: { id: string; homeRegion: RegionId },
  url: URL,
  incoming: Headers,
  mark: Record<string, string>,
  timeoutMs: number,
): Promise<ForwardResult> {
  const headers = new Headers();
  for (const h of SIGNED_HEADERS) {
    // Home sends the identity body; this region compresses (and caches) it itself.
    if (h === H.encoding) continue;
    const v = incoming.get(h);
    if (v !== null) headers.set(h, v);
  }
  for (const [k, v] of Object.entries(mark)) headers.set(k, v);
  let res: Response;
  try {
    res = await internalFetch({ secret: config.internalSecret, baseUrl, target: answerer, pathAndQuery: url.pathname + url.search, headers, timeoutMs });
  } catch (e) {
    if (e instanceof InternalUnreachable) throw new HomeUnreachable(e.timedOut ? 'timed out' : e.detail, e.timedOut, true);
    throw e;
  }
  if (res.status >= 500) {
    const ik = parseIkError(res.headers.get(H.ikError));
    // Home is up and decided (its origin failed or timed out): asking that origin again from here
    // would only double the load and the wait. Overload (EBUSY) and answers without an ik-error
    // (a proxy or a crash in between) are what failover is for.
    const fromHome = res.headers.get(H.region) === answerer;
    const scope = res.headers.get(H.errorScope);
    const err = await internalError(res, 'the home region');
    if (ik && fromHome && (scope === 'request' || (scope === null && ik.code !== 'EBUSY'))) throw err;
    throw new HomeUnreachable(`answered ${res.status}${ik ? ` ${ik.code}` : ''}`);
  }
  if (!res.ok) throw await internalError(res, 'the home region');
  let body: Buffer;
  try {
    body = Buffer.from(await res.arrayBuffer());
  } catch (e) {
    const err = e as Error;
    throw new HomeUnreachable(`reading the answer failed: ${err.name === 'TimeoutError' ? 'timed out' : err.message}`, err.name === 'TimeoutError', true);
  }
  return {
    body,
    defaultImage: res.headers.get(H.defaultImage) ?? undefined,
    regionCache: res.headers.get(H.regionCache) ?? undefined,
    failover: res.headers.get(H.failover) !== null,
    accountRev: res.headers.get(H.accountRev) ?? undefined,
    meta: {
      contentType: res.headers.get('content-type') ?? 'application/octet-stream',
      etag: res.headers.get('etag') ?? '',
      account: account.id,
      path: '',
      processedBy: res.headers.get(H.processedBy) ?? account.homeRegion,
      isPrivate: (res.headers.get('cache-control') ?? '').includes('private'),
      lastModified: Date.parse(res.headers.get('last-modified') ?? '') || undefined,
      createdAt: Date.now(),
    },
  };
}
