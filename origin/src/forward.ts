/**
 * Region → home region: the same render call, signed with the internal secret and marked as a
 * hop so the home region never forwards again. Errors the home region decided (4xx) pass
 * through; an unreachable or failing home region is reported as HomeUnreachable so the caller
 * can fail over where residency allows.
 */
import { parseIkError, PixmeshError, upstreamFailed } from '../../shared/errors.js';
import { H } from '../../shared/headers.js';
import { AUTH_HEADER, signInternalRequest, SIGNED_HEADERS } from '../../shared/internal-auth.js';
import type { CachedMeta } from './cache/result-cache.js';
import type { RegionServices } from './services.js';

export class HomeUnreachable extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
  ) {
    super(message);
  }
  asError(): PixmeshError {
    return upstreamFailed(`home region unreachable: ${this.message}`, this.timedOut ? 504 : 502);
  }
}

export interface ForwardResult {
  body: Buffer;
  meta: Omit<CachedMeta, 'bodyLength'>;
  /** Set when the home region answered with a di- default image (not stored in result caches). */
  defaultImage?: string;
}

export async function forwardToHome(deps: Pick<RegionServices, 'config' | 'accounts'>, url: URL, incoming: Headers): Promise<ForwardResult> {
  const { config } = deps;
  const accountId = decodeURIComponent(url.pathname.split('/')[3] ?? '');
  const account = deps.accounts.get(accountId);
  if (!account) throw new PixmeshError(404, 'ENOENT', `unknown account "${accountId}"`);
  const homeUrl = config.regionUrls[account.homeRegion];
  if (!homeUrl) throw new HomeUnreachable(`no URL configured for ${account.homeRegion}`);
  const headers = new Headers();
  for (const h of SIGNED_HEADERS) {
    const v = incoming.get(h);
    if (v !== null) headers.set(h, v);
  }
  headers.set(H.hop, config.region);
  const pathAndQuery = url.pathname + url.search;
  headers.set(AUTH_HEADER, await signInternalRequest(config.internalSecret, 'GET', pathAndQuery, headers));
  let res: Response;
  try {
    res = await fetch(homeUrl + pathAndQuery, { headers, signal: AbortSignal.timeout(config.forwardTimeoutMs) });
  } catch (e) {
    const err = e as Error;
    throw new HomeUnreachable(err.name === 'TimeoutError' ? 'timed out' : String(err.cause ?? err.message), err.name === 'TimeoutError');
  }
  if (res.status >= 500) {
    await res.body?.cancel();
    const ik = parseIkError(res.headers.get(H.ikError));
    // Home is up and decided (its origin failed or timed out): asking that origin again from here
    // would only double the load and the wait. Overload (EBUSY) and answers without an ik-error
    // (a proxy or a crash in between) are what failover is for.
    if (ik && ik.code !== 'EBUSY' && res.headers.get(H.region) === account.homeRegion)
      throw new PixmeshError(res.status, ik.code as PixmeshError['code'], ik.message);
    throw new HomeUnreachable(`answered ${res.status}${ik ? ` ${ik.code}` : ''}`);
  }
  if (!res.ok) {
    const ik = res.headers.get(H.ikError) ?? '';
    await res.body?.cancel();
    const at = ik.indexOf(' - ');
    const code = (at > 0 ? ik.slice(0, at) : 'EUPSTREAM') as PixmeshError['code'];
    throw new PixmeshError(res.status, code, at > 0 ? ik.slice(at + 3) : `home region answered ${res.status}`);
  }
  const body = Buffer.from(await res.arrayBuffer());
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
      createdAt: Date.now(),
    },
  };
}
