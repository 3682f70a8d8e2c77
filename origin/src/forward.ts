/**
 * Region → home region: the same render call, signed with the internal secret and marked as a
 * hop so the home region never forwards again. Errors the home region decided (4xx) pass
 * through; an unreachable or failing home region is reported as HomeUnreachable so the caller
 * can fail over where residency allows.
 */
import { parseIkError, PixmeshError, upstreamFailed } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { decodeAccountSegment } from '../../shared/request.js';
import { signInternalRequest, SIGNED_HEADERS } from '../../shared/internal-auth.js';
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
 * A per-home-region circuit breaker, so a home region that hangs (no answer until the forward
 * timeout) costs one timeout, not one per miss: after a connection failure or timeout the home
 * region is skipped (fail over at once, or refuse at once for strict accounts) for a cool-down
 * that doubles with each consecutive failure (1 s … 30 s); then one trial call goes through.
 */
export class HomeBreaker {
  private readonly state = new Map<string, { failures: number; openUntil: number; trial: boolean }>();
  constructor(
    private readonly baseMs = 1_000,
    private readonly maxMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Before a call: null when it may go (in half-open this TAKES the one trial lease, so everyone
   * else skips until it settles); otherwise the reason to skip the call.
   */
  takeAttemptLease(region: string): string | null {
    const s = this.state.get(region);
    if (!s || s.failures === 0) return null;
    if (this.now() < s.openUntil) return `circuit open for ${Math.ceil((s.openUntil - this.now()) / 1000)} s after ${s.failures} failure(s)`;
    if (s.trial) return 'circuit half-open: a trial call is in progress';
    s.trial = true;
    return null;
  }

  success(region: string): void {
    this.state.delete(region);
  }

  failure(region: string): void {
    const s = this.state.get(region) ?? { failures: 0, openUntil: 0, trial: false };
    s.failures++;
    s.trial = false;
    s.openUntil = this.now() + Math.min(this.maxMs, this.baseMs * 2 ** (s.failures - 1));
    this.state.set(region, s);
  }

  /** Any answer other than a network failure/timeout proves the region alive. */
  settle(region: string, err: unknown): void {
    if (err instanceof HomeUnreachable && err.network) this.failure(region);
    else this.success(region);
  }
}

export interface ForwardResult {
  body: Buffer;
  meta: Omit<CachedMeta, 'bodyLength'>;
  /** Set when the home region answered with a di- default image (not stored in result caches). */
  defaultImage?: string;
}

export async function forwardToHome(
  deps: Pick<RegionServices, 'config' | 'accounts'> & { homeBreaker?: HomeBreaker },
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
    breaker?.success(account.homeRegion);
    return res;
  } catch (e) {
    breaker?.settle(account.homeRegion, e);
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
  const headers = new Headers();
  for (const h of SIGNED_HEADERS) {
    // Home sends the identity body; this region compresses (and caches) it itself.
    if (h === H.encoding) continue;
    const v = incoming.get(h);
    if (v !== null) headers.set(h, v);
  }
  headers.set(H.hop, config.region);
  const pathAndQuery = url.pathname + url.search;
  await signInternalRequest(config.internalSecret, headers, { method: 'GET', pathAndQuery, region: account.homeRegion });
  let res: Response;
  try {
    res = await fetch(homeUrl + pathAndQuery, { headers, signal: AbortSignal.timeout(config.forwardTimeoutMs) });
  } catch (e) {
    const err = e as Error;
    throw new HomeUnreachable(err.name === 'TimeoutError' ? 'timed out' : String(err.cause ?? err.message), err.name === 'TimeoutError', true);
  }
  if (res.status >= 500) {
    await res.body?.cancel();
    const ik = parseIkError(res.headers.get(H.ikError));
    // Home is up and decided (its origin failed or timed out): asking that origin again from here
    // would only double the load and the wait. Overload (EBUSY) and answers without an ik-error
    // (a proxy or a crash in between) are what failover is for.
    const fromHome = res.headers.get(H.region) === account.homeRegion;
    const scope = res.headers.get(H.errorScope);
    if (ik && fromHome && (scope === 'request' || (scope === null && ik.code !== 'EBUSY'))) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new PixmeshError(res.status, ik.code as PixmeshError['code'], ik.message, { retryAfter: retryAfter > 0 ? retryAfter : undefined, scope: scope === 'request' ? 'request' : 'region' });
    }
    throw new HomeUnreachable(`answered ${res.status}${ik ? ` ${ik.code}` : ''}`);
  }
  if (!res.ok) {
    const ik = res.headers.get(H.ikError) ?? '';
    await res.body?.cancel();
    const at = ik.indexOf(' - ');
    const code = (at > 0 ? ik.slice(0, at) : 'EUPSTREAM') as PixmeshError['code'];
    throw new PixmeshError(res.status, code, at > 0 ? ik.slice(at + 3) : `home region answered ${res.status}`);
  }
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
