/**
 * Web-server origins (`baseUrl` + path) and web-proxy origins (an absolute URL after the endpoint
 * prefix, only to `allowHosts`, only with a signed URL unless the account opts out). Both go
 * through safe-fetch; a private-network address is reachable only with `allowPrivateNetwork`.
 */
import type { WebOrigin, WebProxyOrigin } from '../../../shared/accounts.js';
import { forbidden, limitExceeded, unauthorized, upstreamFailed } from '../../../shared/errors.js';
import { safeFetch, SafeFetchError, type SafeResponse } from './safe-fetch.js';
import type { FetchLimits, Original } from './types.js';

const header = (res: SafeResponse, name: string) => {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Turn a safe-fetch violation into the public error (403 EACCES, 413 ELIMIT, 502/504 EUPSTREAM). */
export function fromFetchError(e: unknown): unknown {
  if (!(e instanceof SafeFetchError)) return e;
  switch (e.code) {
    case 'EACCES':
      return forbidden(e.message);
    case 'ELIMIT':
      return limitExceeded(e.message, 413);
    case 'ETIMEDOUT':
      return upstreamFailed(e.message, 504);
    default:
      return upstreamFailed(e.message, 502);
  }
}

function toOriginal(res: SafeResponse, source: string): Original | null {
  // A missing or refused object is "not here": the next origin is tried (ImageKit answers 404).
  if (res.status === 404 || res.status === 410 || res.status === 403 || res.status === 401) return null;
  if (res.status < 200 || res.status > 299) throw upstreamFailed(`${source} answered ${res.status}`, 502);
  return {
    body: res.body,
    contentType: header(res, 'content-type'),
    source,
    isPrivate: (header(res, 'is-private-file') ?? '').trim().toLowerCase() === 'true',
    lastModified: Date.parse(header(res, 'last-modified') ?? '') || undefined,
  };
}

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');
const queryString = (extra: [string, string][]) => (extra.length ? `?${new URLSearchParams(extra).toString()}` : '');

export async function fetchFromWeb(origin: WebOrigin, path: string, extraQuery: [string, string][], limits: FetchLimits): Promise<Original | null> {
  const url = `${origin.baseUrl}/${encodePath(path)}${queryString(extraQuery)}`;
  try {
    const res = await safeFetch(url, { ...limits.fetch, maxBytes: limits.maxBytes, allowPrivateNetwork: origin.allowPrivateNetwork, signal: limits.signal });
    return toOriginal(res, `web:${new URL(origin.baseUrl).host}`);
  } catch (e) {
    throw fromFetchError(e);
  }
}

/** `example.com` matches itself only; `*.example.com` matches its subdomains (not itself); `*` any host (the SSRF guard still applies). */
export function hostAllowed(host: string, allowHosts: string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowHosts.some((a) => a === '*' || (a.startsWith('*.') ? h.endsWith(a.slice(1)) && h.length > a.length - 1 : h === a));
}

/** The absolute URL a web-proxy path names, or null when the path is not one (another origin may serve it). */
export function webProxyTarget(path: string, extraQuery: [string, string][]): URL | null {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(path)) return null;
  let url: URL;
  try {
    url = new URL(path);
  } catch {
    throw forbidden('the web-proxy path is not a valid absolute URL');
  }
  for (const [k, v] of extraQuery) url.searchParams.append(k, v);
  return url;
}

export async function fetchFromWebProxy(
  origin: WebProxyOrigin,
  path: string,
  extraQuery: [string, string][],
  signed: boolean,
  limits: FetchLimits,
): Promise<Original | null> {
  const target = webProxyTarget(path, extraQuery);
  if (!target) return null;
  if (origin.requireSignedUrls && !signed) throw unauthorized('web-proxy URLs must be signed (ik-s)');
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw forbidden(`only http and https sources are allowed (got ${target.protocol})`);
  if (!hostAllowed(target.hostname, origin.allowHosts)) throw forbidden(`host "${target.hostname}" is not in this endpoint's allowHosts`);
  try {
    const res = await safeFetch(target, {
      ...limits.fetch,
      maxBytes: limits.maxBytes,
      allowPrivateNetwork: origin.allowPrivateNetwork,
      allowHost: (h) => hostAllowed(h, origin.allowHosts),
      signal: limits.signal,
    });
    return toOriginal(res, `webproxy:${target.host}`);
  } catch (e) {
    throw fromFetchError(e);
  }
}
